"""The corpus workflow: reserved check and segmentation of harvested postings, checks of
their labelled rewrites, and assembly of the stored corpus.

Harvested originals live in a work folder outside the repository (one folder per annotator:
``raw/`` originals with ``NNN.meta.json``, ``seg/`` segmented lines, ``lab/`` labels and
rewrites); only the assembled rewrites, labels, provenance and 5-gram hashes are stored.

    python -m training.harvest prep WORKDIR      # reserved check, then segment new postings
    python -m training.harvest check WORKDIR     # validate lab/ files against seg/
    python -m training.harvest build WORKDIR... --out data/corpus
    python -m training.harvest build NEW_WORKDIR... --base data/corpus --out data/corpus
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from classifier.labels import LABEL_NAMES, ROLE_LABELS
from classifier.readers import read_path
from classifier.segment import segment_document

from .overlap import shared_runs, source_hashes

RESERVED_CHECK = Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "reserved-check"
POSTING_VERDICTS = ("focused-PM", "focused-PMM", "focused-marketing-ops", "mixed", "none")
RAW_SUFFIXES = (".txt", ".md", ".html", ".htm")


def raw_postings(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / "raw").iterdir() if p.suffix in RAW_SUFFIXES and p.is_file())


def reserved_postings(paths: list[Path], checker: Path = RESERVED_CHECK) -> set[Path]:
    """Files the reserved-postings check names (3 or more reserved lines)."""
    if not paths:
        return set()
    result = subprocess.run([sys.executable, str(checker), *map(str, paths)], capture_output=True, text=True)
    flagged = set()
    for line in result.stdout.splitlines():
        match = re.match(r"^(.*?)(?: \[[^\]]*\])?: (\d+) reserved line", line)
        if match and int(match.group(2)) >= 3:
            flagged.add(Path(match.group(1)))
    return flagged


def prep(workdir: Path) -> None:
    seg_dir = workdir / "seg"
    seg_dir.mkdir(exist_ok=True)
    new = [p for p in raw_postings(workdir) if not (seg_dir / f"{p.stem}.json").exists()]
    flagged = reserved_postings(new)
    for path in flagged:
        target = workdir / "raw" / "reserved"
        target.mkdir(exist_ok=True)
        for f in path.parent.glob(path.stem + ".*"):
            shutil.move(str(f), target / f.name)
        print(f"RESERVED (dropped, never use it): {path.name}")
    for path in new:
        if path in flagged:
            continue
        lines = segment_document(read_path(path))
        records = [{"i": l.index, "line_no": l.line_no, "kind": l.kind, "section": l.section, "text": l.text}
                   for l in lines]
        (seg_dir / f"{path.stem}.json").write_text(json.dumps({"posting": path.stem, "lines": records}, ensure_ascii=False, indent=1))
        print(f"segmented {path.name}: {len(records)} lines")
    print(f"{len(new) - len(flagged)} new posting(s) segmented, {len(flagged)} reserved dropped")


def check_posting(seg: dict, lab: dict) -> list[str]:
    """Every problem of one labelled posting, as readable messages."""
    problems = []
    if lab.get("verdict") not in POSTING_VERDICTS:
        problems.append(f"verdict {lab.get('verdict')!r}; expected one of {', '.join(POSTING_VERDICTS)}")
    mixed = lab.get("mixed_roles", [])
    if lab.get("verdict") == "mixed" and (len(mixed) < 2 or not set(mixed) <= set(ROLE_LABELS)):
        problems.append(f"mixed_roles {mixed!r}; a mixed posting names two or three of {ROLE_LABELS}")
    if lab.get("verdict") != "mixed" and mixed:
        problems.append("mixed_roles must be [] unless the verdict is mixed")
    if not str(lab.get("title", "")).strip():
        problems.append("title is empty")
    seg_lines, lab_lines = seg["lines"], lab.get("lines", [])
    if [l.get("i") for l in lab_lines] != [l["i"] for l in seg_lines]:
        problems.append(f"lines must have one entry for every i from 0 to {len(seg_lines) - 1}, in order (found {len(lab_lines)} entries)")
        return problems
    for s, l in zip(seg_lines, lab_lines):
        if l.get("label") not in LABEL_NAMES:
            problems.append(f"i={s['i']}: label {l.get('label')!r}; expected one of {', '.join(LABEL_NAMES)}")
        text = str(l.get("text", "")).strip()
        if not text:
            problems.append(f"i={s['i']}: empty rewrite")
            continue
        runs = shared_runs(text, source_hashes(s["text"]))
        if runs:
            problems.append(f"i={s['i']}: shares 5-word run(s) with the original: {runs[:3]}")
        if len(s["text"]) >= 30 and not 0.5 <= len(text) / len(s["text"]) <= 1.8:
            problems.append(f"i={s['i']}: length {len(text)} vs original {len(s['text'])} (keep within ~30%)")
    return problems


def check(workdir: Path) -> int:
    labels, verdicts, postings, bad = Counter(), Counter(), 0, 0
    for lab_path in sorted((workdir / "lab").glob("*.json")):
        seg_path = workdir / "seg" / lab_path.name
        try:
            lab = json.loads(lab_path.read_text())
            seg = json.loads(seg_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            print(f"{lab_path.name}: cannot read ({err})")
            bad += 1
            continue
        problems = check_posting(seg, lab)
        for p in problems:
            print(f"{lab_path.name}: {p}")
        bad += bool(problems)
        postings += 1
        verdicts[lab.get("verdict")] += 1
        labels.update(l.get("label") for l in lab.get("lines", []) if l.get("i") is not None)
    print(f"{postings} postings, {sum(labels.values())} lines, {bad} with problems")
    print("labels:", dict(labels))
    print("verdicts:", dict(verdicts))
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.harvest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("prep", "check"):
        sub.add_parser(name).add_argument("workdir", type=Path)
    b = sub.add_parser("build")
    b.add_argument("workdirs", type=Path, nargs="+")
    b.add_argument("--out", type=Path, default=Path("data/corpus"))
    b.add_argument("--agreement", type=Path, help="folder with the second pass (k*/lab/) and resolved.json")
    b.add_argument("--base", type=Path, help="an existing corpus folder to add the work folders' postings to")
    args = parser.parse_args(argv)
    if args.command == "build":
        from .corpus import build
        report = build(args.workdirs, args.out, check_posting, args.agreement, args.base)
        for line in report["skipped"]:
            print("skipped", line)
        print(f"{report['postings']} postings, {report['lines']} lines; "
              f"{len(report['duplicates_dropped'])} duplicate postings dropped: {report['duplicates_dropped']}")
        return 0
    if args.command == "prep":
        prep(args.workdir)
        return 0
    return check(args.workdir)


if __name__ == "__main__":
    sys.exit(main())
