"""The stored corpus: assembly from annotators' work folders, and the split by posting.

``data/corpus/postings.jsonl``: one object per posting (id, rewritten title, verdict,
mixed roles, role family, company, provenance, split). ``data/corpus/lines.jsonl``: one object
per line (posting id, index, original line number, kind, rewritten section and text, label,
``src5``: hashes of the original line's word 5-grams, see :mod:`training.overlap`).

The split is a pure function of the stored fields, so a test can recompute it: postings that
share a company, a long original line (boilerplate, reposts), a long stored line, or most of
their 5-grams are grouped, and each group goes to one side (80 / 10 / 10 by a hash of the group).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

from classifier.labels import LABEL_NAMES
from classifier.readers import read_jsonl_file as read_jsonl

from .overlap import source_hashes

SPLITS = (("train", 0.8), ("validation", 0.1), ("test", 0.1))
LONG_LINE_HASHES = 6          # a line of 10+ words: shared ones mark boilerplate or reposts
LONG_TEXT_WORDS = 12          # identical stored lines this long are kept on one side too
NEAR_DUPLICATE_JACCARD = 0.5  # postings sharing half their 5-grams are the same job
DUPLICATE_JACCARD = 0.8       # ... and above this the later copy is dropped


def company_key(company: str) -> str:
    return " ".join(str(company).lower().replace(",", " ").replace(".", " ").split())


class _UnionFind:
    def __init__(self, items):
        self.parent = {i: i for i in items}

    def find(self, i):
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def posting_grams(lines: list[dict]) -> dict[str, set[str]]:
    grams: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        grams[line["posting_id"]].update(line["src5"].split())
    return grams


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def posting_groups(postings: list[dict], lines: list[dict]) -> dict[str, str]:
    """posting id -> group id (the smallest posting id of its group)."""
    ids = sorted(p["posting_id"] for p in postings)
    uf = _UnionFind(ids)
    by_company: dict[str, str] = {}
    for p in sorted(postings, key=lambda p: p["posting_id"]):
        key = company_key(p.get("company", ""))
        if key:
            uf.union(p["posting_id"], by_company.setdefault(key, p["posting_id"]))
    by_line: dict[str, str] = {}
    for line in sorted(lines, key=lambda l: (l["posting_id"], l["index"])):
        if len(line["src5"].split()) >= LONG_LINE_HASHES:
            uf.union(line["posting_id"], by_line.setdefault(line["src5"], line["posting_id"]))
    by_text: dict[str, str] = {}
    for line in sorted(lines, key=lambda l: (l["posting_id"], l["index"])):
        words = normalized_words(line["text"])
        if len(words) >= LONG_TEXT_WORDS:
            uf.union(line["posting_id"], by_text.setdefault(" ".join(words), line["posting_id"]))
    grams = posting_grams(lines)
    for a, b in near_duplicate_pairs(ids, grams, NEAR_DUPLICATE_JACCARD):
        uf.union(a, b)
    return {i: uf.find(i) for i in ids}


def normalized_words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def near_duplicate_pairs(ids: list[str], grams: dict[str, set[str]], threshold: float):
    """Pairs of postings whose 5-gram sets overlap at least ``threshold`` (inverted index)."""
    index: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        for g in grams.get(i, ()):
            index[g].append(i)
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for members in index.values():
        if len(members) > 50:  # a stock phrase, not a signal
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                shared[(members[x], members[y])] += 1
    for (a, b), n in shared.items():
        union = len(grams[a]) + len(grams[b]) - n
        if union and n / union >= threshold:
            yield a, b


def split_of(group: str) -> str:
    bucket = int(hashlib.sha256(("jd-roles-split-v1" + group).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    edge = 0.0
    for name, share in SPLITS:
        edge += share
        if bucket <= edge:
            return name
    return SPLITS[-1][0]


def assign_splits(postings: list[dict], lines: list[dict]) -> dict[str, str]:
    groups = posting_groups(postings, lines)
    return {pid: split_of(group) for pid, group in groups.items()}


# --- assembly from work folders ------------------------------------------------------------

def _clean_header(text: str) -> str:
    return text.strip().strip(" :*_#").strip()


def posting_from_workdir(workdir: Path, stem: str) -> tuple[dict, list[dict]]:
    seg = json.loads((workdir / "seg" / f"{stem}.json").read_text())
    lab = json.loads((workdir / "lab" / f"{stem}.json").read_text())
    meta = json.loads(next((workdir / "raw").glob(f"{stem}.meta.json")).read_text())
    posting_id = f"{workdir.name}-{stem}"
    posting = {
        "posting_id": posting_id,
        "title": lab["title"].strip(),
        "verdict": lab["verdict"],
        "mixed_roles": lab.get("mixed_roles", []),
        "role_family": meta.get("role_family", "other"),
        "seniority": meta.get("seniority", ""),
        "industry": meta.get("industry", ""),
        "company": meta.get("company", ""),
        "source": meta.get("source", ""),
        "written": False,
    }
    lines, section = [], None
    for s, l in zip(seg["lines"], lab["lines"]):
        text = " ".join(str(l["text"]).split())
        if s["kind"] == "header":
            section = _clean_header(text) or section
        lines.append({
            "posting_id": posting_id, "index": s["i"], "line_no": s["line_no"], "kind": s["kind"],
            "section": section,
            "text": text, "label": l["label"], "src5": source_hashes(s["text"]),
        })
    return posting, lines


def second_pass(agreement_dir: Path | None) -> tuple[dict, dict]:
    """Second-pass labels ({posting id: {"labels", "verdict"}}) and third-reading
    resolutions ({(posting id, index): label}) from an agreement work folder."""
    if agreement_dir is None or not Path(agreement_dir).is_dir():
        return {}, {}
    passes = {p.stem: json.loads(p.read_text()) for p in sorted(Path(agreement_dir).glob("k*/lab/*.json"))}
    resolved_path = Path(agreement_dir) / "resolved.json"
    resolved = {}
    if resolved_path.is_file():
        resolved = {(r["posting"], int(r["i"])): r["label"] for r in json.loads(resolved_path.read_text())}
    return passes, resolved


def apply_second_pass(posting: dict, lines: list[dict], passes: dict, resolved: dict) -> None:
    """Keep both readings on double-labelled lines; where they differ, the third reading decides."""
    second = passes.get(posting["posting_id"])
    if second is None:
        return
    posting["verdict_second"] = second["verdict"]
    for line, label in zip(lines, second["labels"]):
        line["label_first"], line["label_second"] = line["label"], label
        if label != line["label"]:
            line["label"] = resolved.get((posting["posting_id"], line["index"]), line["label"])


def build(workdirs: list[Path], out: Path, check, agreement_dir: Path | None = None, base: Path | None = None) -> dict:
    """Assemble every labelled posting that passes ``check(seg, lab)`` into ``out``; with
    ``base``, add them to an existing corpus (its postings keep their ids, and their splits,
    since a group is named by its smallest posting id and new work folders sort after)."""
    postings, lines, skipped = [], [], []
    if base is not None:
        postings = [{k: v for k, v in p.items() if k not in ("split", "n_lines")} for p in read_jsonl(Path(base) / "postings.jsonl")]
        lines = read_jsonl(Path(base) / "lines.jsonl")
        known = {p["posting_id"] for p in postings}
        clash = sorted({f"{w.name}-" for w in workdirs if any(k.startswith(f"{w.name}-") for k in known)})
        if clash:
            raise ValueError(f"work folder names already used in {base}: {clash}")
    passes, resolved = second_pass(agreement_dir)
    for workdir in workdirs:
        for lab_path in sorted((workdir / "lab").glob("*.json")):
            stem = lab_path.stem
            try:
                seg = json.loads((workdir / "seg" / f"{stem}.json").read_text())
                lab = json.loads(lab_path.read_text())
            except (OSError, json.JSONDecodeError) as err:
                skipped.append(f"{workdir.name}/{stem}: unreadable ({err})")
                continue
            problems = check(seg, lab)
            if problems:
                skipped.append(f"{workdir.name}/{stem}: {problems[0]}")
                continue
            posting, posting_lines = posting_from_workdir(workdir, stem)
            apply_second_pass(posting, posting_lines, passes, resolved)
            postings.append(posting)
            lines.extend(posting_lines)
    postings, lines, dropped = drop_duplicates(postings, lines)
    splits = assign_splits(postings, lines)
    for p in postings:
        p["split"] = splits[p["posting_id"]]
        p["n_lines"] = sum(1 for l in lines if l["posting_id"] == p["posting_id"])
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "postings.jsonl", postings)
    write_jsonl(out / "lines.jsonl", lines)
    return {"postings": len(postings), "lines": len(lines), "skipped": skipped, "duplicates_dropped": dropped}


def drop_duplicates(postings: list[dict], lines: list[dict]):
    grams = posting_grams(lines)
    ids = sorted(p["posting_id"] for p in postings)
    drop = {max(a, b) for a, b in near_duplicate_pairs(ids, grams, DUPLICATE_JACCARD)}
    return ([p for p in postings if p["posting_id"] not in drop],
            [l for l in lines if l["posting_id"] not in drop], sorted(drop))


def write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)




def check_labels(lines: list[dict]) -> list[str]:
    return [f"{l['posting_id']}#{l['index']}: {l['label']!r}" for l in lines if l["label"] not in LABEL_NAMES]
