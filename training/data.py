"""Reading labelled lines with ``datasets``: the project's corpus, evaluation sets, team files."""
from __future__ import annotations

from pathlib import Path

from classifier.errors import InputError
from classifier.labels import LABEL2ID, LABEL_NAMES

REPO = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO / "data" / "corpus"
SHARED_EVAL_DIR = REPO.parent / "shared" / "eval"
TEXT_COLUMNS = ("text", "section", "label")


def load_corpus(corpus_dir: Path = CORPUS_DIR):
    """The corpus as a ``datasets.DatasetDict`` of train / validation / test lines.

    Each row: ``text``, ``section``, ``label`` (name), ``labels`` (id), ``posting_id``, ``kind``.
    """
    import datasets

    corpus_dir = Path(corpus_dir)
    for name in ("postings.jsonl", "lines.jsonl"):
        if not (corpus_dir / name).is_file():
            raise InputError(f"{corpus_dir / name} not found; the corpus has postings.jsonl and lines.jsonl")
    postings = datasets.load_dataset("json", data_files=str(corpus_dir / "postings.jsonl"), split="train")
    lines = datasets.load_dataset("json", data_files=str(corpus_dir / "lines.jsonl"), split="train")
    split_of = dict(zip(postings["posting_id"], postings["split"]))
    lines = lines.map(lambda row: {"split": split_of[row["posting_id"]], "labels": LABEL2ID[row["label"]],
                                   "section": row["section"] or ""})
    keep = ["text", "section", "label", "labels", "posting_id", "kind"]
    return datasets.DatasetDict({
        split: lines.filter(lambda row, s=split: row["split"] == s).select_columns(keep)
        for split in ("train", "validation", "test")
    })


def load_labelled_file(path: Path):
    """A file of labelled lines (JSONL, JSON, CSV or Parquet with ``text``, ``label`` and an
    optional ``section``) as a ``datasets.Dataset`` with a ``labels`` id column."""
    import datasets

    path = Path(path)
    kinds = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
    if path.suffix not in kinds:
        raise InputError(f"{path}: expected a .jsonl, .json, .csv or .parquet file of labelled lines")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    ds = datasets.load_dataset(kinds[path.suffix], data_files=str(path), split="train")
    missing = [c for c in ("text", "label") if c not in ds.column_names]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(ds.column_names)}")
    unknown = sorted(set(ds["label"]) - set(LABEL_NAMES), key=str)
    if unknown:
        raise InputError(f"{path}: unknown label(s) {', '.join(map(repr, unknown))}; expected one of {', '.join(LABEL_NAMES)}")
    if "section" not in ds.column_names:
        ds = ds.add_column("section", [""] * len(ds))
    return ds.map(lambda row: {"labels": LABEL2ID[row["label"]], "section": row["section"] or "",
                               "text": row["text"] or ""})


def shared_eval_sets(root: Path = SHARED_EVAL_DIR) -> dict[str, Path]:
    """Every labelled line file under ``root`` (files whose rows carry ``text`` and ``label``)."""
    import json

    found = {}
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            first = f.readline()
        try:
            row = json.loads(first)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "text" in row and "label" in row:
            found[f"eval/{path.relative_to(root).with_suffix('')}"] = path
    return found
