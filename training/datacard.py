"""The facts block of the data card (``data/README.md``), computed from the corpus files.

    python -m training.datacard            # rewrite the facts block in data/README.md
    python -m training.datacard --check    # exit 1 when the card's block differs from the files

The block sits between ``<!-- facts -->`` and ``<!-- /facts -->``; the rest of the card
(how the corpus was made, kappa, learning curve) is prose written by people.
"""
from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from classifier.labels import LABEL_NAMES

from .corpus import company_key, read_jsonl
from .data import CORPUS_DIR

CARD = CORPUS_DIR.parent / "README.md"
BLOCK = re.compile(r"<!-- facts -->\n(.*?)<!-- /facts -->", re.S)


def source_kind(source: str) -> str:
    """The repository a posting came from (owner/name), or the site of a URL."""
    repo = re.search(r"(?<![\w/.:-])([A-Za-z0-9][\w.-]*/[\w.-]+):[^/\s]", source)
    if repo:
        return repo.group(1)
    site = re.search(r"https?://([^/\s]+)", source)
    return site.group(1) if site else "unknown"


def facts(corpus_dir: Path = CORPUS_DIR) -> dict:
    postings = read_jsonl(corpus_dir / "postings.jsonl")
    lines = read_jsonl(corpus_dir / "lines.jsonl")
    labels = Counter(l["label"] for l in lines)
    role_lines = sum(v for k, v in labels.items() if k != "other")
    companies = Counter(company_key(p["company"]) for p in postings)
    double = [l for l in lines if "label_second" in l]
    second = [p for p in postings if "verdict_second" in p]
    return {
        "agreement": agreement(double, second),
        "postings": len(postings),
        "lines": len(lines),
        "written_postings": sum(1 for p in postings if p.get("written")),
        "companies": len(companies),
        "max_postings_one_company": max(companies.values()) if companies else 0,
        "labels": {label: labels.get(label, 0) for label in LABEL_NAMES},
        "role_lines": role_lines,
        "verdicts": dict(sorted(Counter(p["verdict"] for p in postings).items())),
        "role_families": dict(sorted(Counter(p["role_family"] for p in postings).items())),
        "splits": {s: sum(1 for p in postings if p["split"] == s) for s in ("train", "validation", "test")},
        "split_lines": {s: sum(p["n_lines"] for p in postings if p["split"] == s) for s in ("train", "validation", "test")},
        "sources": dict(Counter(source_kind(p["source"]) for p in postings).most_common()),
    }


def agreement(double: list[dict], second: list[dict]) -> dict:
    """Cohen's kappa between the two independent readings (before the third reading)."""
    from sklearn.metrics import cohen_kappa_score

    if not double:
        return {}
    first_labels = [l["label_first"] for l in double]
    second_labels = [l["label_second"] for l in double]
    return {
        "lines": len(double),
        "postings": len({l["posting_id"] for l in double}),
        "line_kappa": round(float(cohen_kappa_score(first_labels, second_labels)), 3),
        "line_agreement": round(sum(a == b for a, b in zip(first_labels, second_labels)) / len(double), 3),
        "verdict_kappa": round(float(cohen_kappa_score([p["verdict"] for p in second],
                                                         [p["verdict_second"] for p in second])), 3),
        "disagreements": sum(a != b for a, b in zip(first_labels, second_labels)),
        "changed_by_third_reading": sum(1 for l in double if l["label"] != l["label_first"]),
    }


def facts_markdown(f: dict) -> str:
    out = [f"- Postings: **{f['postings']}** ({f['written_postings']} written), lines: **{f['lines']}**, "
           f"role lines (not `other`): **{f['role_lines']}**",
           f"- Companies: **{f['companies']}**; the most postings from one company: **{f['max_postings_one_company']}**",
           "- Split (postings): " + ", ".join(f"{k} {v}" for k, v in f["splits"].items())
           + "; (lines): " + ", ".join(f"{k} {v}" for k, v in f["split_lines"].items()),
           ]
    a = f["agreement"]
    if a:
        out.append(f"- Second independent reading: **{a['lines']}** lines of **{a['postings']}** postings; "
                   f"Cohen's kappa **{a['line_kappa']}** (raw agreement {a['line_agreement']}), posting verdict kappa "
                   f"**{a['verdict_kappa']}**; {a['disagreements']} disagreements settled by a third reading, "
                   f"which changed {a['changed_by_third_reading']} first-pass labels")
    out += ["", "| label | lines | share of all lines | share of role lines |", "|---|---|---|---|"]
    for label, n in f["labels"].items():
        role_share = f"{n / f['role_lines']:.1%}" if label != "other" and f["role_lines"] else "-"
        out.append(f"| {label} | {n} | {n / f['lines']:.1%} | {role_share} |")
    out += ["", "| posting verdict | postings |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in f["verdicts"].items()]
    out += ["", "| role family | postings |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in f["role_families"].items()]
    out += ["", "| source | postings |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in f["sources"].items()]
    return "\n".join(out) + "\n"


def card_block(card: Path = CARD) -> str | None:
    match = BLOCK.search(card.read_text()) if card.is_file() else None
    return match.group(1) if match else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    block = facts_markdown(facts())
    if args.check:
        same = card_block() == block
        print("data card facts match the files" if same else "data card facts differ from the files")
        return 0 if same else 1
    text = CARD.read_text()
    if BLOCK.search(text) is None:
        raise SystemExit(f"{CARD} has no <!-- facts --> block")
    CARD.write_text(BLOCK.sub(lambda _: f"<!-- facts -->\n{block}<!-- /facts -->", text))
    print(f"updated {CARD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
