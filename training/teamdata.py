"""A team's labelled lines: read them, check them, report every problem, keep the usable rows.

This is where team data enters (``jdroles validate`` and ``jdroles train --data``); the code
after it trusts what it gets. Files are CSV, JSONL / JSON or Parquet with the columns
``text`` and ``label`` and optionally ``section`` and ``posting_id``; the word
``corrections`` stands for the corrections the web page stored (:mod:`classifier.corrections`).

Every problem is reported with where it is: for CSV and JSONL the line of the file (a CSV's
header is line 1), for Parquet the row (from 1), for corrections the correction id.
Errors (unknown or missing labels, empty lines, conflicting labels, missing columns, too
few lines of a label) stop training unless ``--force``; rows with errors are then left
out. Warnings (duplicates, which are kept once; overlong lines; missing posting ids; labels
with no lines) are only reported.
"""
from __future__ import annotations

import csv
import difflib
import json
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from classifier.errors import InputError
from classifier.labels import LABEL2ID, LABEL_NAMES

CORRECTIONS = "corrections"
REQUIRED_COLUMNS = ("text", "label")
OPTIONAL_COLUMNS = ("section", "posting_id")
MIN_PER_LABEL = 5       # fewer lines of a label than this cannot teach it and leave some to test on
MIN_LINES = 20          # fewer usable lines than this is not a training set
LONG_LINE_CHARS = 600   # a line is one duty or sentence; the model reads only its first tokens
SHOWN_PLACES = 8        # places listed per problem before "and N more"

# Spellings people use for the five labels (compared after lower-casing and turning
# spaces and underscores into hyphens).
LABEL_ALIASES: dict[str, str] = {
    "pm": "PM", "product": "PM", "product-manager": "PM", "product-management": "PM", "prod": "PM",
    "pmm": "PMM", "product-marketing": "PMM", "product-marketing-manager": "PMM", "productmarketing": "PMM",
    "both": "shared", "pm+pmm": "shared", "pm/pmm": "shared", "share": "shared",
    "mops": "marketing-ops", "m-ops": "marketing-ops", "mo": "marketing-ops", "ops": "marketing-ops",
    "marketingops": "marketing-ops", "marketing-operations": "marketing-ops",
    "mktg-ops": "marketing-ops", "marketing-op": "marketing-ops",
    "none": "other", "n/a": "other", "na": "other", "misc": "other", "others": "other", "o": "other",
}
COLUMN_ALIASES: dict[str, str] = {
    "line": "text", "sentence": "text", "content": "text", "bullet": "text", "duty": "text",
    "category": "label", "class": "label", "role": "label", "tag": "label", "labels": "label", "target": "label",
    "header": "section", "heading": "section", "section_header": "section",
    "posting": "posting_id", "job_id": "posting_id", "jd_id": "posting_id", "document_id": "posting_id",
    "postingid": "posting_id", "posting-id": "posting_id", "doc_id": "posting_id",
}


@dataclass(frozen=True)
class Place:
    """Where a row came from: a file (or ``corrections``), the unit and its number."""
    source: str
    unit: str   # "line", "row", "item" or "correction"
    number: int


@dataclass
class Record:
    place: Place
    text: str
    label: str
    section: str = ""
    posting_id: str = ""


@dataclass(frozen=True)
class Problem:
    severity: str          # "error" or "warning"
    kind: str              # e.g. "unknown-label", "conflict"; tests and --format json use it
    message: str
    places: tuple[Place, ...] = ()

    def render(self) -> str:
        where = format_places(self.places)
        return f"{self.severity}: {self.message}" + (f" [{where}]" if where else "")


@dataclass
class TeamData:
    """The usable rows of one or more labelled files, and every problem found in them."""
    records: list[Record]
    problems: list[Problem]
    sources: list[str]
    rows_read: int

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def label_counts(self) -> dict[str, int]:
        counts = Counter(r.label for r in self.records)
        return {label: counts.get(label, 0) for label in LABEL_NAMES}

    def has_postings(self) -> bool:
        return any(r.posting_id for r in self.records)

    def report(self) -> str:
        counts = ", ".join(f"{label} {n}" for label, n in self.label_counts().items())
        head = [f"{' + '.join(self.sources)}: {self.rows_read} rows read, {len(self.records)} usable ({counts})",
                f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        return "\n".join(head + [p.render() for p in self.errors + self.warnings]) + "\n"

    def to_json(self) -> dict:
        return {"sources": self.sources, "rows_read": self.rows_read, "usable": len(self.records),
                "label_counts": self.label_counts(), "ok": self.ok,
                "problems": [{"severity": p.severity, "kind": p.kind, "message": p.message,
                              "places": [f"{x.source}:{x.number}" for x in p.places]} for p in self.problems]}


def format_places(places: tuple[Place, ...] | list[Place]) -> str:
    """``small.csv lines 3, 7; other.jsonl line 2`` (at most SHOWN_PLACES numbers)."""
    by_source: dict[tuple[str, str], list[int]] = defaultdict(list)
    for p in places:
        by_source[(p.source, p.unit)].append(p.number)
    parts, shown = [], 0
    for (source, unit), numbers in by_source.items():
        room = SHOWN_PLACES - shown
        if room <= 0:
            break
        listed = ", ".join(map(str, numbers[:room]))
        shown += min(room, len(numbers))
        parts.append(f"{source} {unit}{'s' if len(numbers) > 1 else ''} {listed}")
    more = len(places) - shown
    return "; ".join(parts) + (f" and {more} more" if more > 0 else "")


# --- suggestions ----------------------------------------------------------------------------

def _norm_label(value: str) -> str:
    return "-".join(value.strip().lower().replace("_", " ").split())


def suggest_label(value: str) -> str | None:
    """The label a person most likely meant by ``value`` ('mops' -> 'marketing-ops'), or None."""
    norm = _norm_label(value)
    by_lower = {name.lower(): name for name in LABEL_NAMES}
    if norm in by_lower:
        return by_lower[norm]
    if norm in LABEL_ALIASES:
        return LABEL_ALIASES[norm]
    candidates = {**by_lower, **LABEL_ALIASES}
    close = difflib.get_close_matches(norm, list(candidates), n=1, cutoff=0.6)
    return candidates[close[0]] if close else None


def suggest_column(wanted: str, found: list[str]) -> str | None:
    """A found column that probably means ``wanted`` ('Label', 'category' for 'label')."""
    for column in found:
        norm = column.strip().lower()
        if norm == wanted or COLUMN_ALIASES.get(norm) == wanted:
            return column
    close = difflib.get_close_matches(wanted, [c.lower() for c in found], n=1, cutoff=0.7)
    return next((c for c in found if c.lower() == close[0]), None) if close else None


# --- reading --------------------------------------------------------------------------------

def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a spreadsheet export
        return ""
    return str(value)


def _read_csv(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c for c in (reader.fieldnames or []) if c is not None]
        rows, start = [], 2
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    return rows, columns


def _read_jsonl(path: Path, problems: list[Problem]) -> tuple[list[tuple[int, dict]], list[str], str]:
    text = path.read_text(encoding="utf-8-sig")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"{path.name}: not valid JSON ({err})") from err
        numbered, unit = list(enumerate(items, start=1)), "item"
    else:
        numbered, unit = [], "line"
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                numbered.append((number, json.loads(raw)))
            except json.JSONDecodeError as err:
                problems.append(Problem("error", "bad-json", f"not valid JSON ({err.msg})",
                                        (Place(path.name, unit, number),)))
    rows, columns = [], {}
    for number, item in numbered:
        if not isinstance(item, dict):
            problems.append(Problem("error", "bad-json", f"expected a JSON object, found {type(item).__name__}",
                                    (Place(path.name, unit, number),)))
            continue
        rows.append((number, item))
        columns.update(dict.fromkeys(item))
    return rows, list(columns), unit


def _read_parquet(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return list(enumerate(table.to_pylist(), start=1)), list(table.column_names)


def read_file(path: Path, name: str | None = None) -> tuple[list[Record], list[Problem], int]:
    """The rows of one labelled file as records (labels unchecked), the problems that stop
    it being read at all, and the number of rows read."""
    path, name = Path(path), name or Path(path).name
    problems: list[Problem] = []
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".json", ".parquet"):
        return [], [Problem("error", "unreadable", f"{name}: expected a .csv, .jsonl, .json or .parquet file, "
                                                   f"found '{path.suffix or 'no suffix'}'")], 0
    if not path.is_file():
        return [], [Problem("error", "unreadable", f"{name}: no such file")], 0
    try:
        if suffix == ".csv":
            (rows, columns), unit = _read_csv(path), "line"
        elif suffix == ".parquet":
            (rows, columns), unit = _read_parquet(path), "row"
        else:
            rows, columns, unit = _read_jsonl(path, problems)
    except (UnicodeDecodeError, csv.Error, OSError, InputError) as err:
        return [], [Problem("error", "unreadable", f"{name}: cannot be read as {suffix[1:]} ({err})")], 0
    except Exception as err:  # pyarrow raises its own types for a corrupt Parquet file
        if type(err).__module__.startswith("pyarrow"):
            return [], [Problem("error", "unreadable", f"{name}: cannot be read as parquet ({err})")], 0
        raise
    missing = _missing_columns(name, columns)
    if missing:
        return [], problems + missing, len(rows)
    records = [Record(Place(name, unit, number), _cell(row.get("text")), _cell(row.get("label")).strip(),
                      _cell(row.get("section")).strip(), _cell(row.get("posting_id")).strip())
               for number, row in rows]
    return records, problems, len(rows)


def _missing_columns(name: str, columns: list[str]) -> list[Problem]:
    problems = []
    for wanted in REQUIRED_COLUMNS:
        if wanted in columns:
            continue
        hint = suggest_column(wanted, columns)
        problems.append(Problem(
            "error", "missing-column",
            f"{name}: missing column '{wanted}'; expected columns text and label (optional section, posting_id), "
            f"found {', '.join(repr(c) for c in columns) or 'none'}" + (f"; did you mean '{hint}'?" if hint else "")))
    return problems


def read_corrections(store_path: Path | None = None) -> tuple[list[Record], list[Problem], int]:
    """The corrections the web page stored, as records placed by correction id (the latest
    correction of a line wins, as in :meth:`CorrectionStore.export`)."""
    from classifier.corrections import CorrectionStore, default_data_dir

    path = Path(store_path) if store_path else default_data_dir() / "corrections.sqlite"
    if not path.is_file():
        return [], [Problem("error", "unreadable",
                            f"{CORRECTIONS}: no corrections store at {path}; the web page saves corrections there "
                            "(set JDROLES_DATA_DIR or --corrections-db)")], 0
    with tempfile.TemporaryDirectory(prefix="jdroles-corrections-") as tmp:
        export = Path(tmp) / "corrections.jsonl"
        CorrectionStore(path).export(export)
        rows, _, _ = _read_jsonl(export, [])
    records = [Record(Place(CORRECTIONS, "correction", int(str(row["source"]).split(":")[1])), _cell(row["text"]),
                      _cell(row["label"]).strip(), _cell(row.get("section")).strip(),
                      _cell(row.get("posting_id")).strip())
               for _, row in rows]
    return records, [], len(records)


# --- checking -------------------------------------------------------------------------------

def line_key(text: str) -> str:
    """Two lines are the same line when they match ignoring case and spacing."""
    return " ".join(text.split()).casefold()


def _check_rows(records: list[Record]) -> tuple[list[Record], list[Problem]]:
    """Unknown or missing labels and empty lines: those rows are unusable."""
    problems, usable = [], []
    unknown: dict[str, list[Place]] = defaultdict(list)
    no_label, empty = [], []
    for r in records:
        if not r.text.strip():
            empty.append(r.place)
        elif not r.label:
            no_label.append(r.place)
        elif r.label not in LABEL2ID:
            unknown[r.label].append(r.place)
        else:
            usable.append(r)
    expected = ", ".join(LABEL_NAMES)
    for value, places in unknown.items():
        hint = suggest_label(value)
        problems.append(Problem("error", "unknown-label", f"column 'label' has {value!r} on {len(places)} row(s); "
                                f"expected one of {expected}" + (f"; did you mean {hint}?" if hint else ""),
                                tuple(places)))
    if no_label:
        problems.append(Problem("error", "missing-label", f"{len(no_label)} row(s) have no label; "
                                f"every line needs one of {expected}", tuple(no_label)))
    if empty:
        problems.append(Problem("error", "empty-text", f"{len(empty)} row(s) have an empty line text; "
                                "fill the line in or remove the row", tuple(empty)))
    return usable, problems


def _check_duplicates(records: list[Record]) -> tuple[list[Record], list[Problem]]:
    """The same line twice: with one label it is kept once (warning); with several labels
    it is a conflict and every copy is left out (error)."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[line_key(r.text)].append(r)
    kept, problems = [], []
    for copies in groups.values():
        labels = sorted({r.label for r in copies}, key=LABEL2ID.get)
        if len(labels) > 1:
            detail = ", ".join(f"{r.label} ({format_places([r.place])})" for r in copies[:SHOWN_PLACES])
            problems.append(Problem("error", "conflict",
                                    f"conflicting labels for the same line {_quote(copies[0].text)}: {detail}; "
                                    "keep one label per line", tuple(r.place for r in copies)))
            continue
        kept.append(copies[0])
        if len(copies) > 1:
            problems.append(Problem("warning", "duplicate",
                                    f"duplicate line {_quote(copies[0].text)} ({len(copies)} times, "
                                    f"label {labels[0]}); kept once", tuple(r.place for r in copies)))
    return kept, problems


def _check_amounts(records: list[Record], min_per_label: int, min_lines: int) -> list[Problem]:
    problems = []
    counts = Counter(r.label for r in records)
    for label in LABEL_NAMES:
        n = counts.get(label, 0)
        if 0 < n < min_per_label:
            problems.append(Problem("error", "too-few",
                                    f"label {label!r} has {n} line(s); at least {min_per_label} are needed to learn "
                                    "it and hold some out for evaluation: add lines, or pass --force"))
        elif n == 0:
            problems.append(Problem("warning", "no-lines", f"no line is labelled {label!r}; the model learns it only "
                                    "from the corpus mix (--mix-corpus) or the model it starts from"))
    if len(records) < min_lines:
        problems.append(Problem("error", "too-few-lines", f"{len(records)} usable line(s); at least {min_lines} are "
                                "needed to train and hold some out"))
    long = [r.place for r in records if len(r.text) > LONG_LINE_CHARS]
    if long:
        problems.append(Problem("warning", "long-line",
                                f"{len(long)} line(s) longer than {LONG_LINE_CHARS} characters; a line is one duty "
                                "or sentence, and the model reads only its first 64 tokens", tuple(long)))
    with_id = sum(1 for r in records if r.posting_id)
    if 0 < with_id < len(records):
        problems.append(Problem("warning", "posting-id", f"{len(records) - with_id} line(s) have no posting_id; each "
                                "is held out on its own, as if it were a posting",
                                tuple(r.place for r in records if not r.posting_id)))
    return problems


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")


def check_records(records: list[Record], min_per_label: int = MIN_PER_LABEL, min_lines: int = MIN_LINES,
                  amounts: bool = True) -> tuple[list[Record], list[Problem]]:
    """The usable records (bad rows and conflicts out, duplicates once) and every problem;
    ``amounts=False`` skips the counts (when no file could be read, they say nothing new)."""
    usable, problems = _check_rows(records)
    usable, more = _check_duplicates(usable)
    problems += more
    if amounts:
        problems += _check_amounts(usable, min_per_label, min_lines)
    return usable, problems


def load_team_data(specs: list[str | Path], min_per_label: int = MIN_PER_LABEL, min_lines: int = MIN_LINES,
                   corrections_db: Path | None = None) -> TeamData:
    """Read and check every file in ``specs`` (``corrections`` = the stored corrections)."""
    if not specs:
        raise InputError("no labelled data given: pass --data FILE (or --data corrections)")
    records, problems, read, sources = [], [], 0, []
    for spec in specs:
        if str(spec) == CORRECTIONS:
            found, trouble, n = read_corrections(corrections_db)
            sources.append(CORRECTIONS)
        else:
            found, trouble, n = read_file(Path(spec))
            sources.append(Path(spec).name)
        records += found
        problems += trouble
        read += n
    usable, checked = check_records(records, min_per_label, min_lines, amounts=bool(records) or not problems)
    return TeamData(usable, problems + checked, sources, read)
