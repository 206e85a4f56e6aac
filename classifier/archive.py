"""Many postings at once: folders, zip archives and CSV / JSONL / Parquet tables.

``iter_postings(paths)`` yields one :class:`PostingInput` per posting (or a
:class:`PostingError` for one that cannot be read, so a run never stops on a bad file).
Zip archives are read member by member in memory, never extracted: members whose names climb
out of the archive are refused, and archives that would inflate past the limits (a zip bomb)
are refused whole.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator

from .errors import InputError
from .readers import MAX_INPUT_BYTES, Document, read_bytes

DOCUMENT_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
TABLE_SUFFIXES = {".csv", ".jsonl", ".parquet"}
TEXT_COLUMN_GUESSES = ("text", "description", "job_description", "jd", "body", "content", "posting")
ID_COLUMN_GUESSES = ("id", "job_id", "posting_id")
META_COLUMNS = ("title", "company", "date")
MAX_ZIP_MEMBERS = 20_000
MAX_ZIP_TOTAL_BYTES = 500_000_000
MAX_ZIP_RATIO = 200


@dataclass
class PostingInput:
    source: str               # the file's path inside the input, or the id column's value
    document: Document
    meta: dict = field(default_factory=dict)  # title / company / date columns when the input has them


@dataclass
class PostingError:
    source: str
    reason: str


def iter_postings(paths, text_column: str | None = None, id_column: str | None = None
                  ) -> Iterator[PostingInput | PostingError]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in DOCUMENT_SUFFIXES | TABLE_SUFFIXES | {".zip"}:
                    yield from _one_path(child, text_column, id_column, base=path)
        elif path.is_file():
            yield from _one_path(path, text_column, id_column, base=path.parent)
        else:
            yield PostingError(str(path), "no such file or folder")


def _one_path(path: Path, text_column, id_column, base: Path):
    name = path.relative_to(base).as_posix() if path != base else path.name
    suffix = path.suffix.lower()
    try:
        if suffix == ".zip":
            yield from iter_zip(path.read_bytes(), name)
        elif suffix in TABLE_SUFFIXES:
            yield from iter_table(path, text_column, id_column)
        else:
            yield _document(path.read_bytes(), name)
    except InputError as err:
        yield PostingError(name, str(err))
    except OSError as err:
        yield PostingError(name, f"cannot read: {err.strerror or err}")


def _document(data: bytes, name: str) -> PostingInput | PostingError:
    try:
        return PostingInput(name, read_bytes(data, name))
    except InputError as err:
        return PostingError(name, str(err))


def safe_member_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not path.is_absolute() and ".." not in path.parts and not (path.parts and ":" in path.parts[0])


def check_zip(archive: zipfile.ZipFile, name: str, compressed_size: int) -> None:
    """Refuse zip bombs: too many members, too much inflated data, or an absurd ratio."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(f"{name}: {len(infos)} members is more than the {MAX_ZIP_MEMBERS} allowed")
    total = sum(i.file_size for i in infos)
    if total > MAX_ZIP_TOTAL_BYTES:
        raise InputError(f"{name}: would inflate to {total / 1e6:.0f} MB, more than the {MAX_ZIP_TOTAL_BYTES / 1e6:.0f} MB allowed")
    if compressed_size and total / compressed_size > MAX_ZIP_RATIO and total > 10_000_000:
        raise InputError(f"{name}: inflates {total / compressed_size:.0f}x; refused as a likely zip bomb")


def iter_zip(data: bytes, name: str) -> Iterator[PostingInput | PostingError]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise InputError(f"{name}: not a valid zip archive ({err})") from err
    with archive:
        check_zip(archive, name, len(data))
        for info in archive.infolist():
            member = f"{name}/{info.filename}"
            if info.is_dir():
                continue
            if not safe_member_name(info.filename):
                yield PostingError(member, "refused: the path climbs out of the archive")
                continue
            suffix = PurePosixPath(info.filename).suffix.lower()
            if suffix not in DOCUMENT_SUFFIXES:
                continue
            if info.file_size > MAX_INPUT_BYTES:
                yield PostingError(member, f"{info.file_size / 1e6:.1f} MB is too large for one job description")
                continue
            try:
                content = _read_member(archive, info)
            except (zipfile.BadZipFile, RuntimeError, OSError, EOFError) as err:
                yield PostingError(member, f"cannot read the member ({err})")
                continue
            yield _document(content, member)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read at most the declared size (+1 byte to detect a lying header)."""
    with archive.open(info) as f:
        content = f.read(info.file_size + 1)
    if len(content) > info.file_size:
        raise RuntimeError("the member is larger than its header says")
    return content


def _pick(columns: list[str], wanted: str | None, guesses: tuple[str, ...], what: str, path: Path) -> str | None:
    if wanted:
        if wanted not in columns:
            raise InputError(f"{path}: no {what} column {wanted!r}; columns are {', '.join(columns)}")
        return wanted
    lowered = {c.lower(): c for c in columns}
    return next((lowered[g] for g in guesses if g in lowered), None)


def table_rows(path: Path) -> tuple[list[str], Iterator[dict]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.ParquetFile(path)
        except Exception as err:  # pyarrow raises several unrelated types for a bad file
            raise InputError(f"{path}: not a readable Parquet file ({type(err).__name__})") from err
        columns = table.schema_arrow.names
        return columns, (row for batch in table.iter_batches(batch_size=512) for row in batch.to_pylist())
    if suffix == ".jsonl":
        def rows():
            with path.open(encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, start=1):
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except json.JSONDecodeError:
                            yield {"__error__": f"line {n}: not valid JSON"}
        with path.open(encoding="utf-8", errors="replace") as f:
            first = next((l for l in f if l.strip()), "{}")
        try:
            columns = list(json.loads(first))
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: the first line is not a JSON object") from err
        return columns, rows()
    handle = path.open(newline="", encoding="utf-8", errors="replace")
    csv.field_size_limit(MAX_INPUT_BYTES)
    reader = csv.DictReader(handle)
    return list(reader.fieldnames or []), reader


def iter_table(path: Path, text_column: str | None, id_column: str | None) -> Iterator[PostingInput | PostingError]:
    columns, rows = table_rows(path)
    text_col = _pick(columns, text_column, TEXT_COLUMN_GUESSES, "text", path)
    if text_col is None:
        raise InputError(f"{path}: no text column found; name it with --text-column (columns: {', '.join(columns)})")
    id_col = _pick(columns, id_column, ID_COLUMN_GUESSES, "id", path)
    for n, row in enumerate(rows, start=1):
        source = f"{path.name}:{row.get(id_col) if id_col and row.get(id_col) is not None else n}"
        if "__error__" in row:
            yield PostingError(source, row["__error__"])
            continue
        text = row.get(text_col)
        if not isinstance(text, str) or not text.strip():
            yield PostingError(source, f"empty {text_col!r}")
            continue
        meta = {c: row.get(c) for c in columns if c.lower() in META_COLUMNS and row.get(c) is not None}
        try:
            yield PostingInput(source, read_bytes(text.encode("utf-8"), source, fmt="text"), meta)
        except InputError as err:
            yield PostingError(source, str(err))


def count_postings(paths, text_column: str | None = None, id_column: str | None = None) -> int | None:
    """How many items :func:`iter_postings` will yield (for progress and ETA), counted
    cheaply: files, zip members and table rows, without reading the documents."""
    total = 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file()
                           and p.suffix.lower() in DOCUMENT_SUFFIXES | TABLE_SUFFIXES | {".zip"})
        else:
            files = [path]
        for file in files:
            total += _count_one(file)
    return total


def _count_one(path: Path) -> int:
    suffix = path.suffix.lower()
    try:
        if suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                return sum(1 for i in archive.infolist() if not i.is_dir()
                           and PurePosixPath(i.filename).suffix.lower() in DOCUMENT_SUFFIXES) or 1
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows or 1
        if suffix == ".jsonl":
            with path.open("rb") as f:
                return sum(1 for line in f if line.strip()) or 1
        if suffix == ".csv":
            csv.field_size_limit(MAX_INPUT_BYTES)
            with path.open(newline="", encoding="utf-8", errors="replace") as f:
                return max(sum(1 for _ in csv.reader(f)) - 1, 1)
    except Exception:  # an unreadable input is reported by iter_postings as one error
        return 1
    return 1
