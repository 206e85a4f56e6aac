"""Label corrections made in the web page, kept in SQLite for retraining.

Each correction keeps the line, its section, the model's label, the label a person chose,
the model version and the time. Nothing leaves the machine; ``export`` writes a labelled
file that ``jdroles train --data`` reads.
"""
from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from pathlib import Path

from .errors import InputError
from .labels import LABEL_NAMES

SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    text TEXT NOT NULL,
    section TEXT,
    predicted TEXT,
    label TEXT NOT NULL,
    model TEXT,
    posting_id TEXT
)
"""
COLUMNS = ("id", "created_at", "text", "section", "predicted", "label", "model", "posting_id")


def default_data_dir() -> Path:
    return Path(os.environ.get("JDROLES_DATA_DIR", Path.cwd() / "jdroles-data"))


class CorrectionStore:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_data_dir() / "corrections.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def add(self, text: str, label: str, predicted: str | None = None, section: str | None = None,
            model: str | None = None, posting_id: str | None = None) -> int:
        if label not in LABEL_NAMES:
            raise InputError(f"label {label!r}; expected one of {', '.join(LABEL_NAMES)}")
        if not str(text).strip():
            raise InputError("an empty line cannot be corrected")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO corrections (created_at, text, section, predicted, label, model, posting_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (stamp, text, section, predicted, label, model, posting_id))
            return int(cursor.lastrowid)

    def all(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM corrections ORDER BY id").fetchall()
        return [dict(zip(COLUMNS, row)) for row in rows]

    def export(self, out: str | Path) -> int:
        """Write the corrections as training data (JSONL or CSV by suffix); the latest
        correction of a line wins. Returns the number of lines written."""
        out = Path(out)
        latest: dict[tuple[str, str], dict] = {}
        for row in self.all():
            latest[(row["text"], row["section"] or "")] = row
        rows = [{"text": r["text"], "section": r["section"] or "", "label": r["label"],
                 "posting_id": r["posting_id"] or "", "source": f"correction:{r['id']}"} for r in latest.values()]
        tmp = out.with_suffix(out.suffix + ".tmp")
        if out.suffix == ".csv":
            with tmp.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=["text", "section", "label", "posting_id", "source"])
                writer.writeheader()
                writer.writerows(rows)
        else:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        tmp.replace(out)
        return len(rows)
