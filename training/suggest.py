"""``jdroles suggest``: active learning. Pick the unlabelled lines the model is least sure of.

A *pool* is a file of unlabelled lines: a ``.txt`` file with one line per item, a ``.jsonl``,
``.csv`` or ``.parquet`` file with a ``text`` column (and optional ``section`` and
``posting_id``), or a job description (``.md``, ``.html``, ``.pdf``, ``.docx``; a ``.txt``
with ``segment=True``) cut into lines. Rows that already carry a ``label`` are skipped.

Lines are ranked by an uncertainty score computed from the classifier's probabilities
(margin, entropy or least confidence; higher means less sure) and picked greedily, skipping
near-duplicates of lines already picked (same normalised text, token Jaccard, or cosine of
the model's own encoder embeddings), so the person labelling sees varied lines. The output
file has an empty ``label`` column to fill in, ready for ``jdroles train --data``.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from classifier.errors import InputError
from classifier.readers import iter_jsonl_objects

TABLE_SUFFIXES = (".jsonl", ".csv", ".parquet")
DOCUMENT_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
STRATEGIES = ("margin", "entropy", "least-confidence")
DIVERSITY = ("jaccard", "embedding", "exact")
DEFAULT_THRESHOLDS = {"jaccard": 0.75, "embedding": 0.99, "exact": 1.0}
SUGGEST_COLUMNS = ("rank", "text", "section", "posting_id", "model_label", "model_confidence", "runner_up",
                   "uncertainty", "label")


# --- reading a pool ------------------------------------------------------------------------

def read_pool(path: str | Path, segment: bool = False) -> list[dict]:
    """The items of a pool file as dicts with ``text``, ``section``, ``posting_id`` and ``label``
    (``None`` where absent); blank lines are dropped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".txt" and not segment:
        from classifier.readers import decode_text

        rows = [{"text": t} for t in decode_text(path.read_bytes(), path.name).splitlines()]
    elif suffix in TABLE_SUFFIXES:
        rows = {".jsonl": _read_jsonl, ".csv": _read_csv, ".parquet": _read_parquet}[suffix](path)
    elif suffix in DOCUMENT_SUFFIXES or suffix == ".txt":
        rows = _read_document(path)
    else:
        raise InputError(f"{path}: expected a .txt file (one line per item), a .jsonl, .csv or .parquet file "
                         f"with a 'text' column, or a job description ({', '.join(DOCUMENT_SUFFIXES)}); "
                         f"found {suffix or 'no suffix'}")
    return [_clean_row(row, path, n) for n, row in enumerate(rows, start=1) if _text_of(row, path, n)]


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, raw, row in iter_jsonl_objects(path):
        if not isinstance(row, dict) or "text" not in row:
            raise InputError(f"{path}:{n}: expected an object with a 'text' field; found {raw.strip()[:80]!r}")
        rows.append(row)
    return rows


def _read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.DictReader(f)
        _require_text_column(path, reader.fieldnames or [])
        return list(reader)


def _read_parquet(path: Path) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(f"{path}: not a readable Parquet file ({err})") from err
    _require_text_column(path, table.column_names)
    return table.to_pylist()


def _read_document(path: Path) -> list[dict]:
    from classifier.readers import read_path
    from classifier.segment import segment_document

    lines = segment_document(read_path(path))
    return [{"text": l.text, "section": l.section, "posting_id": path.stem} for l in lines if l.kind != "header"]


def _require_text_column(path: Path, columns: Sequence[str]) -> None:
    if "text" not in columns:
        raise InputError(f"{path}: no 'text' column; found {', '.join(columns) or 'no columns'}")


def _text_of(row: dict, path: Path, n: int) -> str:
    text = row.get("text")
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InputError(f"{path}: row {n}: 'text' is {type(text).__name__} {text!r}; expected a string")
    return text.strip()


def _clean_row(row: dict, path: Path, n: int) -> dict:
    def optional(key: str) -> str | None:
        value = row.get(key)
        return str(value).strip() or None if value is not None else None

    return {"text": _text_of(row, path, n), "section": optional("section"), "posting_id": optional("posting_id"),
            "label": optional("label")}


# --- uncertainty ---------------------------------------------------------------------------

def uncertainty(probs: np.ndarray, strategy: str = "margin") -> np.ndarray:
    """How unsure the model is about each row of ``probs [N, K]``, in [0, 1]; higher is less sure.

    ``margin``: 1 - (top probability - runner-up); ``entropy``: entropy / log K;
    ``least-confidence``: 1 - top probability.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if len(probs) == 0:
        return np.zeros(0)
    top2 = -np.sort(-probs, axis=1)[:, :2]
    if strategy == "margin":
        return 1.0 - (top2[:, 0] - top2[:, 1])
    if strategy == "least-confidence":
        return 1.0 - top2[:, 0]
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1) / np.log(probs.shape[1])


# --- near-duplicates -----------------------------------------------------------------------

def normalise(text: str) -> str:
    """Lower case, NFKC, punctuation as spaces, one space between words."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class JaccardFilter:
    """Near-duplicate when the word sets overlap by at least ``threshold`` (Jaccard)."""

    def __init__(self, texts: Sequence[str], threshold: float):
        self.tokens = [frozenset(normalise(t).split()) for t in texts]
        self.threshold = threshold
        self.picked: list[frozenset] = []

    def is_near_duplicate(self, i: int) -> bool:
        return any(jaccard(self.tokens[i], other) >= self.threshold for other in self.picked)

    def add(self, i: int) -> None:
        self.picked.append(self.tokens[i])


class EmbeddingFilter:
    """Near-duplicate when the cosine of the classifier's own mean-pooled encoder embeddings
    reaches ``threshold``. Embeddings are computed lazily, in chunks, for candidates only."""

    def __init__(self, classifier, items: Sequence[dict], order: Sequence[int], threshold: float, chunk: int = 256):
        self.classifier, self.items, self.order = classifier, items, list(order)
        self.position = {i: p for p, i in enumerate(self.order)}
        self.threshold, self.chunk = threshold, chunk
        self.vectors: dict[int, np.ndarray] = {}
        self.picked: list[np.ndarray] = []

    def _vector(self, i: int) -> np.ndarray:
        if i not in self.vectors:
            start = self.position[i]
            batch = self.order[start:start + self.chunk]
            for j, v in zip(batch, embed(self.classifier, [{"text": self.items[j]["text"]} for j in batch])):
                self.vectors[j] = v
        return self.vectors[i]

    def is_near_duplicate(self, i: int) -> bool:
        if not self.picked:
            return False
        return float(np.max(np.stack(self.picked) @ self._vector(i))) >= self.threshold

    def add(self, i: int) -> None:
        self.picked.append(self._vector(i))


def embed(classifier, lines: Sequence) -> np.ndarray:
    """L2-normalised mean-pooled last hidden states [N, H] of the classifier's encoder."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(lines), classifier.batch_size):
            enc = classifier.encode(lines[start:start + classifier.batch_size]).to(classifier.device)
            hidden = classifier.model(**enc, output_hidden_states=True).hidden_states[-1]
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def select_diverse(order: Iterable[int], n: int, texts: Sequence[str], near_duplicate=None,
                   posting_ids: Sequence[str | None] | None = None, max_per_posting: int | None = None
                   ) -> tuple[list[int], int]:
    """Walk ``order`` (most uncertain first) and keep up to ``n`` items, skipping any whose
    normalised text was already kept or that ``near_duplicate`` (a filter with
    ``is_near_duplicate(i)`` and ``add(i)``) flags, and at most ``max_per_posting`` per posting.
    Returns the kept indices and how many were skipped as duplicates."""
    picked, seen, per_posting, skipped = [], set(), {}, 0
    for i in order:
        if len(picked) >= n:
            break
        key = normalise(texts[i])
        posting = posting_ids[i] if posting_ids is not None else None
        if max_per_posting and posting is not None and per_posting.get(posting, 0) >= max_per_posting:
            continue
        if key in seen or (near_duplicate is not None and near_duplicate.is_near_duplicate(i)):
            skipped += 1
            continue
        picked.append(i)
        seen.add(key)
        per_posting[posting] = per_posting.get(posting, 0) + 1
        if near_duplicate is not None:
            near_duplicate.add(i)
    return picked, skipped


# --- the whole step ------------------------------------------------------------------------

@dataclass(frozen=True)
class SuggestConfig:
    n: int = 100
    strategy: str = "margin"
    diversity: str = "jaccard"
    threshold: float | None = None       # None: DEFAULT_THRESHOLDS[diversity]
    max_per_posting: int | None = None

    def check(self) -> None:
        if self.n < 1:
            raise InputError(f"--n must be at least 1, got {self.n}")
        if self.strategy not in STRATEGIES:
            raise InputError(f"strategy {self.strategy!r}; expected one of {', '.join(STRATEGIES)}")
        if self.diversity not in DIVERSITY:
            raise InputError(f"diversity {self.diversity!r}; expected one of {', '.join(DIVERSITY)}")
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise InputError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.max_per_posting is not None and self.max_per_posting < 1:
            raise InputError(f"max per posting must be at least 1, got {self.max_per_posting}")


def unlabelled(items: Sequence[dict], exclude: Iterable[str] = ()) -> list[dict]:
    """Items with no ``label`` yet whose normalised text is not in ``exclude``."""
    known = {normalise(t) for t in exclude}
    return [item for item in items if not item.get("label") and normalise(item["text"]) not in known]


def suggest(items: Sequence[dict], classifier, config: SuggestConfig = SuggestConfig(),
            log: Callable[[str], None] = lambda m: None) -> list[dict]:
    """The ``config.n`` most uncertain, mutually distinct items, as output rows (most uncertain first)."""
    config.check()
    items = list(items)
    probs = classifier.predict_proba(items)
    scores = uncertainty(probs, config.strategy)
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    threshold = config.threshold if config.threshold is not None else DEFAULT_THRESHOLDS[config.diversity]
    texts = [item["text"] for item in items]
    near = {"jaccard": lambda: JaccardFilter(texts, threshold),
            "embedding": lambda: EmbeddingFilter(classifier, items, order, threshold),
            "exact": lambda: None}[config.diversity]()
    picked, skipped = select_diverse(order, config.n, texts, near, [item.get("posting_id") for item in items],
                                     config.max_per_posting)
    log(f"picked {len(picked)} of {len(items)} unlabelled lines ({config.strategy}; "
        f"skipped {skipped} near-duplicates)")
    return [_suggestion_row(rank, items[i], probs[i], scores[i], classifier.labels)
            for rank, i in enumerate(picked, start=1)]


def _suggestion_row(rank: int, item: dict, row: np.ndarray, score: float, labels: Sequence[str]) -> dict:
    best, second = np.argsort(-row, kind="stable")[:2]
    return {"rank": rank, "text": item["text"], "section": item.get("section") or "",
            "posting_id": item.get("posting_id") or "", "model_label": labels[best],
            "model_confidence": round(float(row[best]), 4), "runner_up": labels[second],
            "uncertainty": round(float(score), 4), "label": ""}


# --- writing -------------------------------------------------------------------------------

def write_rows(rows: Sequence[dict], columns: Sequence[str], out: str | Path | None = None,
               fmt: str | None = None) -> None:
    """Rows as CSV or JSONL to ``out`` (format from its suffix) or to stdout (``fmt``, CSV by default)."""
    if out is not None:
        fmt = {".csv": "csv", ".jsonl": "jsonl"}.get(Path(out).suffix.lower())
        if fmt is None:
            raise InputError(f"{out}: expected an output file ending in .csv or .jsonl")
    fmt = fmt or "csv"
    stream = open(out, "w", encoding="utf-8", newline="") if out is not None else sys.stdout
    try:
        if fmt == "jsonl":
            for row in rows:
                stream.write(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(stream, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    finally:
        if out is not None:
            stream.close()


def read_pools(paths: Sequence[str | Path], segment: bool = False) -> list[dict]:
    return [item for path in paths for item in read_pool(path, segment=segment)]


def check_out(out: str | Path | None, overwrite: bool) -> None:
    if out is None:
        return
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".jsonl"):
        raise InputError(f"{out}: expected an output file ending in .csv or .jsonl")
    if out.exists() and not overwrite:
        raise InputError(f"{out} exists; it may hold labels someone typed in: pick a new file or pass --overwrite")


# --- command line --------------------------------------------------------------------------

def cmd_suggest(args: argparse.Namespace) -> int:
    from classifier.model import LineClassifier

    check_out(args.out, args.overwrite)
    config = SuggestConfig(n=args.n, strategy=args.strategy, diversity=args.diversity, threshold=args.threshold,
                           max_per_posting=args.max_per_posting)
    config.check()
    exclude = [item["text"] for item in read_pools(args.exclude)]
    items = unlabelled(read_pools(args.pool, segment=args.segment), exclude)
    if not items:
        raise InputError(f"no unlabelled lines in {', '.join(map(str, args.pool))}")
    classifier = LineClassifier.from_pretrained(args.model, device=args.device)
    rows = suggest(items, classifier, config, log=lambda m: print(m, file=sys.stderr))
    columns = [c for c in SUGGEST_COLUMNS if c != "posting_id" or any(r["posting_id"] for r in rows)]
    write_rows(rows, columns, args.out, args.format)
    if args.out:
        print(f"wrote {len(rows)} lines to label to {args.out}", file=sys.stderr)
    return 0


def add_suggest(sub) -> None:
    p = sub.add_parser("suggest", help="pick the unlabelled lines the model is least sure of, for labelling next")
    p.add_argument("--pool", action="append", required=True, type=Path,
                   help="unlabelled lines: .txt (one per line), .jsonl/.csv/.parquet with 'text' [+ section, "
                        "posting_id], or a JD file (.md, .html, .pdf, .docx) that is segmented; repeatable")
    p.add_argument("--n", type=int, default=100, help="how many lines to pick (default 100)")
    p.add_argument("--out", type=Path, help="output .csv or .jsonl (default: CSV on stdout)")
    p.add_argument("--format", choices=("csv", "jsonl"), help="stdout format when no --out is given")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--strategy", choices=STRATEGIES, default="margin", help="uncertainty score (default margin)")
    p.add_argument("--diversity", choices=DIVERSITY, default="jaccard",
                   help="near-duplicate test: word-set Jaccard, the model's embedding cosine, or exact "
                        "normalised text only (default jaccard)")
    p.add_argument("--threshold", type=float,
                   help="similarity at which a line counts as a near-duplicate "
                        f"(default {DEFAULT_THRESHOLDS['jaccard']} jaccard, {DEFAULT_THRESHOLDS['embedding']} embedding)")
    p.add_argument("--max-per-posting", type=int, help="pick at most this many lines from one posting_id")
    p.add_argument("--exclude", action="append", default=[], type=Path,
                   help="a file of lines already labelled (any pool format); their texts are never suggested")
    p.add_argument("--segment", action="store_true", help="treat a .txt pool as a job description to segment")
    p.add_argument("--model", help="classifier model folder (default: the default model)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.set_defaults(func=cmd_suggest)
