"""Posting verdicts: choose the thresholds on corpus postings, evaluate them everywhere.

Thresholds are searched on the corpus only: the reference line labels of the training
postings (how line labels should turn into a verdict) and the model's predictions on the
validation postings (how they do, with the model's own confidence). They are then reported
on the corpus test postings and on the real postings under ``../shared/eval`` (never tuned on).

    python -m training.verdicts --model models/jd-roles-minilm
"""
from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import asdict, replace
from pathlib import Path

from classifier.analysis import DEFAULT_RULES, VerdictRules, analyze_posting, interpret
from classifier.labels import LABEL_NAMES
from classifier.model import LineClassifier, Prediction, default_model_path
from classifier.readers import read_path
from classifier.segment import Line

from .corpus import read_jsonl
from .data import CORPUS_DIR, SHARED_EVAL_DIR

GRID = {
    "min_role_mass": (1.5, 2.5, 3.5, 5.0, 7.0),
    "secondary_share": (0.1, 0.15, 0.2, 0.25, 0.3, 0.35),
    "secondary_mass": (1.0, 1.5, 2.0, 3.0, 4.0, 5.0),
}


def reference_verdict(verdict: str) -> str:
    return "not-enough-signal" if verdict == "none" else verdict


def corpus_postings(corpus_dir: Path = CORPUS_DIR, splits=("test",)) -> list[tuple[dict, list[Line]]]:
    postings = {p["posting_id"]: p for p in read_jsonl(corpus_dir / "postings.jsonl") if p["split"] in splits}
    lines: dict[str, list[Line]] = {pid: [] for pid in postings}
    labels: dict[str, list[str]] = {pid: [] for pid in postings}
    for row in read_jsonl(corpus_dir / "lines.jsonl"):
        if row["posting_id"] in postings:
            lines[row["posting_id"]].append(Line(row["index"], row["text"], row["kind"], row["section"],
                                                 row["line_no"], 0, 0))
            labels[row["posting_id"]].append(row["label"])
    return [({**postings[pid], "labels": labels[pid]}, lines[pid]) for pid in sorted(postings)]


def reference_predictions(labels: list[str]) -> list[Prediction]:
    return [Prediction(label, 1.0, {l: float(l == label) for l in LABEL_NAMES}) for label in labels]


def verdict_metrics(pairs: list[tuple[str, str]]) -> dict:
    """Verdict accuracy, and mixed-vs-focused accuracy, precision and recall."""
    n = len(pairs)
    tp = sum(1 for ref, pred in pairs if ref == "mixed" and pred == "mixed")
    fp = sum(1 for ref, pred in pairs if ref != "mixed" and pred == "mixed")
    fn = sum(1 for ref, pred in pairs if ref == "mixed" and pred != "mixed")
    return {
        "n": n, "n_mixed": tp + fn,
        "verdict_accuracy": sum(ref == pred for ref, pred in pairs) / n if n else 0.0,
        "mixed_vs_focused_accuracy": sum((ref == "mixed") == (pred == "mixed") for ref, pred in pairs) / n if n else 0.0,
        "mixed_precision": tp / (tp + fp) if tp + fp else 0.0,
        "mixed_recall": tp / (tp + fn) if tp + fn else 0.0,
    }


def scored_postings(classifier: LineClassifier, postings) -> list[tuple[str, list[Line], list[Prediction]]]:
    """Predict every line of every posting in one batched call."""
    flat = [line for _, lines in postings for line in lines]
    predictions = classifier.predict(flat)
    out, start = [], 0
    for posting, lines in postings:
        out.append((reference_verdict(posting["verdict"]), lines, predictions[start:start + len(lines)]))
        start += len(lines)
    return out


def verdict_pairs(scored, rules: VerdictRules) -> list[tuple[str, str]]:
    return [(ref, interpret(lines, preds, rules=rules).verdict) for ref, lines, preds in scored]


def tune(classifier: LineClassifier, corpus_dir: Path = CORPUS_DIR) -> tuple[VerdictRules, list[dict]]:
    train = [(reference_verdict(p["verdict"]), lines, reference_predictions(p["labels"]))
             for p, lines in corpus_postings(corpus_dir, ("train",))]
    validation = scored_postings(classifier, corpus_postings(corpus_dir, ("validation",)))
    table = []
    for values in itertools.product(*GRID.values()):
        rules = replace(DEFAULT_RULES, **dict(zip(GRID, values)))
        on_train = verdict_metrics(verdict_pairs(train, rules))
        on_val = verdict_metrics(verdict_pairs(validation, rules))
        score = (on_train["mixed_vs_focused_accuracy"] + on_val["mixed_vs_focused_accuracy"]
                 + 0.5 * (on_train["verdict_accuracy"] + on_val["verdict_accuracy"]))
        table.append({**dict(zip(GRID, values)), "score": score, "train": on_train, "validation": on_val})
    best = max(table, key=lambda row: row["score"])
    return replace(DEFAULT_RULES, **{k: best[k] for k in GRID}), table


def shared_eval_postings(root: Path = SHARED_EVAL_DIR) -> list[dict]:
    meta_path = root / "real-postings.json"
    if not meta_path.is_file():
        return []
    meta = json.loads(meta_path.read_text())
    return [{"id": pid, "title": m.get("title"), "verdict": reference_verdict(m["verdict"]), "path": root / m["file"]}
            for pid, m in sorted(meta.items())]


def evaluate_verdicts(classifier: LineClassifier, rules: VerdictRules = DEFAULT_RULES,
                      corpus_dir: Path = CORPUS_DIR) -> dict:
    """Verdict metrics on the corpus test postings and on the shared real postings."""
    results = {"corpus/test postings": verdict_metrics(
        verdict_pairs(scored_postings(classifier, corpus_postings(corpus_dir, ("test",))), rules))}
    real = shared_eval_postings()
    if real:
        pairs = [(p["verdict"], analyze_posting(read_path(p["path"]), title=p["title"], classifier=classifier,
                                                rules=rules).verdict) for p in real]
        results["eval/real-postings"] = {**verdict_metrics(pairs),
                                         "confusions": [f"{p['id']}: {ref} -> {pred}" for p, (ref, pred) in zip(real, pairs) if ref != pred]}
    return results


def verdict_report(results: dict, rules: VerdictRules) -> str:
    out = ["Rules: " + ", ".join(f"{k}={v}" for k, v in asdict(rules).items()), "",
           "| postings | n | mixed | verdict accuracy | mixed-vs-focused accuracy | mixed precision | mixed recall |",
           "|---|---|---|---|---|---|---|"]
    for name, m in results.items():
        out.append(f"| {name} | {m['n']} | {m['n_mixed']} | {m['verdict_accuracy']:.3f} | {m['mixed_vs_focused_accuracy']:.3f} "
                   f"| {m['mixed_precision']:.3f} | {m['mixed_recall']:.3f} |")
    for name, m in results.items():
        if m.get("confusions"):
            out += ["", f"Wrong verdicts on {name}: " + "; ".join(m["confusions"])]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tune", action="store_true", help="search the grid and print the best rules")
    parser.add_argument("--write", action="store_true", help="add the verdict metrics to the model's eval.md")
    args = parser.parse_args(argv)
    classifier = LineClassifier.from_pretrained(args.model or default_model_path())
    rules = DEFAULT_RULES
    if args.tune:
        rules, table = tune(classifier)
        top = sorted(table, key=lambda r: -r["score"])[:5]
        for row in top:
            print({k: row[k] for k in GRID}, f"score={row['score']:.3f}",
                  "train", {k: round(v, 3) for k, v in row["train"].items()},
                  "val", {k: round(v, 3) for k, v in row["validation"].items()})
    results = evaluate_verdicts(classifier, rules)
    report = verdict_report(results, rules)
    print(report)
    if args.write:
        write_verdicts(Path(args.model or default_model_path()), results, report)
    return 0


def write_verdicts(model_dir: Path, results: dict, report: str) -> None:
    """Add the posting-verdict evaluation to the model's metrics.json and eval.md."""
    metrics_path = model_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics["verdicts"] = results
    metrics_path.write_text(json.dumps(metrics, indent=1))
    eval_md = model_dir / "eval.md"
    text = eval_md.read_text().split("\n## Posting verdicts")[0].rstrip() + "\n"
    eval_md.write_text(text + "\n## Posting verdicts\n\n" + report)


if __name__ == "__main__":
    raise SystemExit(main())
