"""Does a retrained model follow a team's convention without forgetting the rest?

    python benchmarks/retrain_convention.py [--lines 300] [--mix-corpus 8] [--out-dir DIR] [--max-steps N]

Builds a 300-line "company file" from data/corpus in which one duty family is relabelled:
lines about launches and go-to-market that the standard labels PMM are labelled PM (the
company counts launches as product work). The file holds every corpus line of that family
(relabelled) and, to fill it up, other lines of the same postings with their own labels
(at least 15 of each label), with ``posting_id`` so the held-out split is by posting. Then it
runs ``jdroles train --data company.csv --base default --mix-corpus R`` through the real CLI
and prints:

- accuracy of the new model on the held-out team lines of the family (target >= 0.90; the
  held-out split is recomputed with the same seed and settings as the training run);
- macro-F1 on ../shared/eval lines outside the family (lines that are not PMM launch / GTM
  lines), before (the current default model) and after (target: drop <= 3 points);
- the wall time of the training command (target <= 15 minutes on a 2-core CPU).

``--max-steps`` caps training for a quick check of the script itself (the targets then
mean nothing). Results also go to DIR/benchmark.json; the model stays in DIR/model.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FAMILY = re.compile(r"\blaunch|\bgo-to-market\b|\bgo to market\b|\bgtm\b", re.IGNORECASE)
FAMILY_FROM, FAMILY_TO = "PMM", "PM"
MIN_PER_LABEL = 15


def in_family(text: str, label: str) -> bool:
    return label == FAMILY_FROM and bool(FAMILY.search(text))


def company_rows(n_lines: int, seed: int) -> list[dict]:
    """The company file: the whole family relabelled, filled with other lines of the same postings."""
    from classifier.labels import LABEL_NAMES
    from training.teamdata import line_key

    lines = [json.loads(l) for l in (REPO / "data" / "corpus" / "lines.jsonl").open(encoding="utf-8")]
    seen, family, others = set(), [], []
    for row in lines:
        key = line_key(row["text"])
        if key in seen or not key:
            continue
        seen.add(key)
        out = {"text": row["text"], "label": row["label"], "section": row["section"] or "",
               "posting_id": row["posting_id"]}
        if in_family(row["text"], row["label"]):
            family.append({**out, "label": FAMILY_TO})
        else:
            others.append(out)
    family = family[: n_lines // 2]
    postings = {r["posting_id"] for r in family}
    pool = [r for r in others if r["posting_id"] in postings]
    rng = np.random.default_rng(seed)
    chosen: list[dict] = []
    for label in LABEL_NAMES:
        of_label = [r for r in pool if r["label"] == label]
        chosen += [of_label[i] for i in rng.permutation(len(of_label))[:MIN_PER_LABEL]]
    rest = [r for r in pool if r not in chosen]
    room = max(0, n_lines - len(family) - len(chosen))
    chosen += [rest[i] for i in rng.permutation(len(rest))[:room]]
    return family + chosen


def write_csv(rows: list[dict], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label", "section", "posting_id"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def held_out_family_accuracy(data: Path, model_dir: Path, holdout: float, seed: int) -> dict:
    from classifier import LineClassifier
    from training.retrain import RetrainConfig, split_team
    from training.teamdata import load_team_data

    team = load_team_data([data])
    test = split_team(team, RetrainConfig(holdout=holdout), seed)["test"]
    family = [r for r in test if r.label == FAMILY_TO and FAMILY.search(r.text)]
    clf = LineClassifier.from_pretrained(model_dir, device="cpu")
    predicted = [p.label for p in clf.predict([{"text": r.text, "section": r.section} for r in family])]
    return {"held_out_lines": len(test), "held_out_family_lines": len(family),
            "family_accuracy": float(np.mean([p == FAMILY_TO for p in predicted])) if family else float("nan")}


def shared_outside_family(model_dirs: dict[str, Path | None]) -> dict:
    """Macro-F1 of each model on ../shared/eval lines outside the family, and how the family
    lines there are labelled (share predicted PM)."""
    from classifier import LineClassifier
    from training.data import load_labelled_file, shared_eval_sets
    from training.evaluate import classification_metrics

    sets = shared_eval_sets()
    if not sets:
        return {"note": "../shared/eval not found: skipped"}
    rows, y, family = [], [], []
    for path in sets.values():
        ds = load_labelled_file(path)
        for text, section, label, labels in zip(ds["text"], ds["section"], ds["label"], ds["labels"]):
            rows.append({"text": text, "section": section})
            y.append(labels)
            family.append(in_family(text, label))
    y, family = np.asarray(y), np.asarray(family)
    out = {"lines_outside_family": int((~family).sum()), "family_lines": int(family.sum())}
    for name, path in model_dirs.items():
        probs = LineClassifier.from_pretrained(path, device="cpu").predict_proba(rows)
        out[f"macro_f1_outside_{name}"] = classification_metrics(y[~family], probs[~family])["macro_f1"]
        out[f"family_predicted_PM_{name}"] = float((probs[family].argmax(axis=1) == 0).mean()) if family.any() else None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--mix-corpus", default="8")
    parser.add_argument("--out-dir", type=Path,
                        help="where the company file, model and results go (default: a temp folder)")
    parser.add_argument("--max-steps", type=int, default=-1, help="cap training steps (a quick check of this script)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from classifier.cli import main as jdroles
    from classifier.model import default_model_path

    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="jdroles-retrain-bench-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = company_rows(args.lines, args.seed)
    data = write_csv(rows, out_dir / "company.csv")
    relabelled = sum(r["label"] == FAMILY_TO and FAMILY.search(r["text"]) is not None for r in rows)
    print(f"company file: {data} ({len(rows)} lines, {relabelled} relabelled {FAMILY_FROM} -> {FAMILY_TO})", flush=True)
    before = default_model_path()
    command = ["train", "--data", str(data), "--base", "default", "--mix-corpus", args.mix_corpus,
               "--seed", str(args.seed), "--max-steps", str(args.max_steps), "--out", str(out_dir / "model")]
    print("jdroles " + " ".join(command), flush=True)
    started = time.perf_counter()
    status = jdroles(command)
    wall = time.perf_counter() - started
    if status != 0:
        print(f"training failed with status {status}")
        return status
    results = {"wall_seconds": wall, "mix_corpus": args.mix_corpus, "max_steps": args.max_steps,
               "before_model": str(before), **held_out_family_accuracy(data, out_dir / "model", 0.2, args.seed),
               **shared_outside_family({"before": before, "after": out_dir / "model"})}
    (out_dir / "benchmark.json").write_text(json.dumps(results, indent=1))
    report(results)
    return 0


def report(r: dict) -> None:
    print(f"\nheld-out family accuracy: {r['family_accuracy']:.3f} on {r['held_out_family_lines']} lines "
          "(target >= 0.90)")
    if "macro_f1_outside_before" in r:
        drop = 100 * (r["macro_f1_outside_before"] - r["macro_f1_outside_after"])
        print(f"../shared/eval macro-F1 outside the family ({r['lines_outside_family']} lines): "
              f"{r['macro_f1_outside_before']:.3f} before, {r['macro_f1_outside_after']:.3f} after, "
              f"drop {drop:.1f} points (target <= 3)")
        print(f"../shared/eval family lines predicted PM: {r['family_predicted_PM_before']:.2f} before, "
              f"{r['family_predicted_PM_after']:.2f} after ({r['family_lines']} lines)")
    else:
        print(r.get("note", ""))
    print(f"training wall time: {r['wall_seconds']:.0f} s (target <= 900 s)")
    if r["max_steps"] > 0:
        print("(--max-steps was set: a check of the script, not a measurement)")


if __name__ == "__main__":
    sys.exit(main())
