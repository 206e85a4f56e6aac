"""``jdroles classify`` and ``jdroles analyze``."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from .errors import InputError
from .labels import COLOURS, LABEL_NAMES, ROLE_LABELS


def read_items(source: str, as_lines: bool) -> list[dict]:
    """Items to classify: segmented lines of a JD, or (``--lines``) one item per input line;
    a ``.jsonl`` file under ``--lines`` holds objects with ``text`` and optional ``section``."""
    from .cli import load_document
    from .segment import segment_document

    if not as_lines:
        return [{"text": l.text, "section": l.section, "kind": l.kind} for l in segment_document(load_document(source))]
    if source != "-" and Path(source).suffix == ".jsonl":
        return read_jsonl_items(Path(source))
    doc = load_document(source)
    return [{"text": t.strip(), "section": None} for t in doc.text.splitlines() if t.strip()]


def read_jsonl_items(path: Path) -> list[dict]:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    from .readers import iter_jsonl_objects

    items = []
    for n, _, row in iter_jsonl_objects(path):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InputError(f"{path}:{n}: expected an object with a 'text' string")
        items.append({"text": row["text"], "section": row.get("section") or None})
    return items


def cmd_classify(args: argparse.Namespace) -> int:
    from .model import LineClassifier

    items = read_items(args.file, args.lines)
    classifier = LineClassifier.from_pretrained(args.model, device=args.device)
    predictions = classifier.predict(items)
    rows = [{"index": i, "text": item["text"], "section": item.get("section"), **p.to_dict()}
            for i, (item, p) in enumerate(zip(items, predictions))]
    if args.format == "jsonl":
        from .cli import write_jsonl
        write_jsonl(rows)
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["index", "text", "section", "label", "confidence", *(f"score_{l}" for l in LABEL_NAMES)])
        for r in rows:
            writer.writerow([r["index"], r["text"], r["section"] or "", r["label"], f"{r['confidence']:.4f}",
                             *(f"{r['scores'][l]:.4f}" for l in LABEL_NAMES)])
    else:
        print_line_table(rows)
    return 0


def print_line_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} lines")
    for column in ("#", "label", "conf", "text"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(str(r["index"]), f"[{COLOURS[r['label']]}]{r['label']}[/]", f"{r['confidence']:.2f}", r["text"])
    Console().print(table)


def add_classify(sub) -> None:
    p = sub.add_parser("classify", help="label every line of a job description")
    p.add_argument("file", help="a JD file (txt, md, html, pdf, docx) or - for stdin")
    p.add_argument("--lines", action="store_true",
                   help="each input line is one item (no segmentation); a .jsonl file holds {text, section} objects")
    p.add_argument("--format", choices=("table", "jsonl", "csv"), default="table")
    p.add_argument("--model", help="model folder (default: the default model)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.set_defaults(func=cmd_classify)


# --- analyze -------------------------------------------------------------------------------

def cmd_analyze(args: argparse.Namespace) -> int:
    from .analysis import analyze_posting
    from .cli import load_document
    from .model import LineClassifier

    doc = load_document(args.file)
    classifier = LineClassifier.from_pretrained(args.model, device=args.device)
    result = analyze_posting(doc, title=args.title, classifier=classifier)
    if args.format == "json":
        json.dump(result.to_dict(), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif args.format == "markdown":
        sys.stdout.write(analysis_markdown(result))
    else:
        print_analysis(result)
    return 0


def mix_bar(role_mix: dict[str, float], width: int = 40) -> list[tuple[str, str, int]]:
    """(label, colour, cells) segments of a text bar of the role mix."""
    return [(r, COLOURS[r], round(role_mix[r] * width)) for r in ROLE_LABELS]


def print_analysis(result) -> None:
    from rich.console import Console

    console = Console()
    style = "bold red" if result.verdict == "mixed" else "bold green" if result.verdict.startswith("focused") else "bold yellow"
    console.print(f"[{style}]{result.headline}[/]")
    if result.title_check.get("message"):
        console.print(f"Title check: {result.title_check['message']}")
    bar = "".join(f"[on {colour}]{' ' * cells}[/]" for _, colour, cells in mix_bar(result.role_mix))
    console.print(f"Role mix  {bar}  " + "  ".join(f"{r} {result.role_mix[r]:.0%}" for r in ROLE_LABELS)
                  + f"  (shared lines {result.shared_share:.0%})")
    console.print()
    for line in result.lines:
        if line.kind == "header":
            console.print(f"[bold]{line.text}[/]")
            continue
        flag = " [dim](low confidence)[/]" if line.low_confidence else ""
        console.print(f"  [{COLOURS[line.label]}]{line.label:>13}[/] {line.confidence:.2f}  {line.text}{flag}")
    console.print()
    for role, lines in result.evidence.items():
        if lines and (role in result.mixed_roles or result.verdict == f"focused-{role}"):
            console.print(f"[bold]Evidence for {role}[/]")
            for e in lines:
                console.print(f"  - {e['text']} ({e['confidence']:.2f})")
    for posting in result.split:
        console.print()
        console.print(f"[bold]Split suggestion: {posting['title']}[/]")
        console.print(posting["text"], markup=False, highlight=False)


def analysis_markdown(result) -> str:
    out = [f"## {result.headline}", ""]
    if result.title_check.get("message"):
        out += [f"**Title check:** {result.title_check['message']}", ""]
    out += ["| role | share |", "|---|---|"]
    out += [f"| {r} | {result.role_mix[r]:.0%} |" for r in ROLE_LABELS]
    out += [f"| shared lines | {result.shared_share:.0%} |", "", "| # | label | confidence | line |", "|---|---|---|---|"]
    for l in result.lines:
        text = l.text.replace("|", "\\|")
        out.append(f"| {l.index} | {l.label}{' (low)' if l.low_confidence else ''} | {l.confidence:.2f} | {text} |")
    for posting in result.split:
        out += ["", f"### Split suggestion: {posting['title']}", "", "```markdown", posting["text"].rstrip(), "```"]
    return "\n".join(out) + "\n"


def add_analyze(sub) -> None:
    p = sub.add_parser("analyze", help="the posting's role mix, verdict, evidence and split suggestion")
    p.add_argument("file", help="a JD file (txt, md, html, pdf, docx) or - for stdin")
    p.add_argument("--title", help="the job title, for the title check")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--model", help="model folder (default: the default model)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.set_defaults(func=cmd_analyze)
