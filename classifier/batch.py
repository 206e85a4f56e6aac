"""Batch classification of JD archives: resumable, deduplicated, memory-flat.

Postings are read in a fixed order (``archive.iter_postings``) and processed in chunks of
``chunk_size`` items. Each finished chunk is written as Parquet parts (postings, lines,
errors) under ``RESULT.parts/``, atomically, so a crash or Ctrl-C loses at most the chunk
in flight and the same command resumes where it stopped. When every chunk is done the parts
are assembled, streaming, into the output file(s) and the parts folder is removed.

Identical lines (boilerplate repeats across postings) are classified once: a bounded LRU
cache maps (text, section) to the model's probabilities, so memory stays flat however
large the archive.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .analysis import PostingAnalysis, interpret
from .archive import PostingError, PostingInput, count_postings, iter_postings
from .errors import InputError
from .labels import LABEL_NAMES
from .model import Prediction, predictions_from_probs, softmax
from .segment import segment_document
from .spreadsheet import safe_cell

FORMAT_VERSION = 1
OUTPUT_FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl"}
HEADER_PREDICTION = Prediction("other", 1.0, {label: float(label == "other") for label in LABEL_NAMES})


def _schemas():
    import pyarrow as pa

    postings = pa.schema([
        ("seq", pa.int64()), ("source", pa.string()), ("title", pa.string()), ("company", pa.string()),
        ("date", pa.string()), ("verdict", pa.string()), ("mixed_roles", pa.string()),
        ("role_load", pa.float64()), ("pm_share", pa.float64()), ("pmm_share", pa.float64()),
        ("marketing_ops_share", pa.float64()), ("shared_share", pa.float64()),
        ("n_lines", pa.int64()), ("n_role_lines", pa.int64()), ("title_consistent", pa.bool_()),
        ("title_check", pa.string()), ("headline", pa.string()),
    ])
    lines = pa.schema([
        ("seq", pa.int64()), ("source", pa.string()), ("index", pa.int64()), ("kind", pa.string()),
        ("section", pa.string()), ("text", pa.string()), ("label", pa.string()), ("confidence", pa.float64()),
    ])
    errors = pa.schema([("seq", pa.int64()), ("source", pa.string()), ("reason", pa.string())])
    return {"postings": postings, "lines": lines, "errors": errors}


# --- classifying a chunk ---------------------------------------------------------------------

class LineCache:
    """A bounded LRU map from (text, section) to class probabilities."""

    def __init__(self, max_items: int = 100_000):
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    def get(self, key):
        row = self._items.get(key)
        if row is not None:
            self._items.move_to_end(key)
        return row

    def put(self, key, row: np.ndarray) -> None:
        self._items[key] = row
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class ChunkAnalyser:
    """Segments postings, classifies their lines (each distinct line once) and interprets them."""

    classifier: object
    dedup: bool = True
    cache_size: int = 100_000
    lines_seen: int = 0
    lines_classified: int = 0
    cache: LineCache = field(init=False)

    def __post_init__(self):
        self.cache = LineCache(self.cache_size)

    def analyse(self, items: list[PostingInput]) -> list[tuple[PostingInput, PostingAnalysis]]:
        segmented = [(item, segment_document(item.document)) for item in items]
        keys = [(l.text, l.section or "") for _, segs in segmented for l in segs if l.kind != "header"]
        self.lines_seen += len(keys)
        probs = self._probabilities(keys)
        results, k = [], 0
        for item, segs in segmented:
            predictions = []
            for line in segs:
                if line.kind == "header":
                    predictions.append(HEADER_PREDICTION)
                else:
                    predictions.append(predictions_from_probs(probs[k], LABEL_NAMES))
                    k += 1
            title = _text_or_none(item.meta.get("title"))
            results.append((item, interpret(segs, predictions, title=title,
                                            model_name=getattr(self.classifier, "name", ""))))
        return results

    def _probabilities(self, keys: list[tuple[str, str]]) -> np.ndarray:
        if not keys:
            return np.zeros((0, len(LABEL_NAMES)), dtype=np.float32)
        if not self.dedup:
            self.lines_classified += len(keys)
            return softmax(self.classifier.logits([{"text": t, "section": s} for t, s in keys]))
        found = {key: self.cache.get(key) for key in dict.fromkeys(keys)}
        todo = [key for key, row in found.items() if row is None]
        if todo:
            self.lines_classified += len(todo)
            new = softmax(self.classifier.logits([{"text": t, "section": s} for t, s in todo]))
            for key, row in zip(todo, new):
                found[key] = row
                self.cache.put(key, row)
        return np.stack([found[key] for key in keys])


def _text_or_none(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def posting_row(seq: int, item: PostingInput, a: PostingAnalysis) -> dict:
    meta = item.meta
    return {
        "seq": seq, "source": item.source, "title": _text_or_none(meta.get("title")),
        "company": _text_or_none(meta.get("company")), "date": _text_or_none(meta.get("date")),
        "verdict": a.verdict, "mixed_roles": "+".join(a.mixed_roles), "role_load": round(float(a.role_load), 4),
        "pm_share": a.role_mix["PM"], "pmm_share": a.role_mix["PMM"],
        "marketing_ops_share": a.role_mix["marketing-ops"], "shared_share": a.shared_share,
        "n_lines": sum(1 for l in a.lines if l.kind != "header"),
        "n_role_lines": sum(1 for l in a.lines if l.kind != "header" and l.label != "other"),
        "title_consistent": a.title_check.get("consistent"), "title_check": a.title_check.get("message", ""),
        "headline": a.headline,
    }


def line_rows(seq: int, item: PostingInput, a: PostingAnalysis) -> list[dict]:
    return [{"seq": seq, "source": item.source, "index": l.index, "kind": l.kind, "section": l.section,
             "text": l.text, "label": l.label, "confidence": float(l.confidence)} for l in a.lines]


# --- the job ---------------------------------------------------------------------------------

@dataclass
class BatchJob:
    inputs: list[Path]
    out: Path
    lines_out: Path | None = None
    text_column: str | None = None
    id_column: str | None = None
    chunk_size: int = 256
    dedup: bool = True
    cache_size: int = 100_000
    report: Path | None = None
    restart: bool = False
    overwrite: bool = False

    @property
    def parts_dir(self) -> Path:
        return self.out.with_name(self.out.name + ".parts")

    @property
    def errors_path(self) -> Path:
        return self.out.with_name(self.out.stem + ".errors.csv")

    def state(self, engine: str) -> dict:
        return {"version": FORMAT_VERSION, "inputs": [str(Path(p).resolve()) for p in self.inputs],
                "chunk_size": self.chunk_size, "text_column": self.text_column, "id_column": self.id_column,
                "lines": self.lines_out is not None, "engine": engine}


def output_format(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: output must end in .parquet, .csv or .jsonl")
    return fmt


def prepare(job: BatchJob, engine: str) -> set[int]:
    """Check the job, set up its parts folder, and return the chunks already done."""
    if not job.inputs:
        raise InputError("no inputs given")
    for path in (job.out, job.lines_out):
        if path is not None:
            output_format(path)
    missing = [str(p) for p in job.inputs if not Path(p).exists()]
    if missing:
        raise InputError(f"input not found: {', '.join(missing)}")
    parts, state = job.parts_dir, job.state(engine)
    if job.restart and parts.exists():
        shutil.rmtree(parts)
    if parts.exists():
        try:
            saved = json.loads((parts / "state.json").read_text())
        except (OSError, json.JSONDecodeError):
            saved = None
        if saved != state:
            raise InputError(f"{parts} holds an unfinished run with other inputs or options; run that same "
                             "command to finish it, or add --restart to start over")
    else:
        if job.out.exists() and not job.overwrite:
            raise InputError(f"{job.out} exists; add --overwrite to replace it")
        parts.mkdir(parents=True)
        _write_atomic(parts / "state.json", json.dumps(state, indent=1).encode())
    for stale in parts.glob("*.tmp"):
        stale.unlink()
    return {int(p.name.split(".")[0].split("-")[1]) for p in parts.glob("chunk-*.postings.parquet")}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_chunk(parts: Path, index: int, postings: list[dict], lines: list[dict], errors: list[dict]) -> None:
    """Write one chunk's parts; the postings part is renamed last and marks the chunk done."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = _schemas()
    staged = []
    for kind, rows in (("lines", lines), ("errors", errors), ("postings", postings)):
        final = parts / f"chunk-{index:06d}.{kind}.parquet"
        tmp = final.with_name(final.name + ".tmp")
        pq.write_table(pa.Table.from_pylist(rows, schema=schemas[kind]), tmp)
        staged.append((tmp, final))
    for tmp, final in staged:
        os.replace(tmp, final)


def chunked(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Progress:
    """A tqdm bar with rate and ETA, JSON lines on stderr, or nothing."""

    def __init__(self, mode: str, total: int | None, initial: int = 0):
        self.mode, self.total, self.done = mode, total, initial
        self.started, self.start_done = time.perf_counter(), initial
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="posting", desc="classifying", file=sys.stderr)

    def update(self, n: int, lines: int = 0) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.mode == "json":
            elapsed = time.perf_counter() - self.started
            rate = (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / rate if rate and self.total else None
            print(json.dumps({"done": self.done, "total": self.total, "postings_per_s": round(rate, 2),
                              "eta_s": None if eta is None else round(eta, 1), "lines": lines}),
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_batch(job: BatchJob, classifier=None, engine: str = "local", progress: str = "bar",
              model: Path | None = None, backend: str = "auto", ray_address: str | None = None,
              ray_actors: int | None = None, log: Callable[[str], None] = lambda m: None) -> dict:
    """Run (or resume) ``job`` and return its summary."""
    if engine not in ("local", "ray"):
        raise InputError(f"engine {engine!r}; expected local or ray")
    started = time.perf_counter()
    done_chunks = prepare(job, engine)
    total = count_postings(job.inputs, job.text_column, job.id_column)
    chunk_size = job.chunk_size
    if engine == "ray":
        from .batch_ray import RayChunkRunner

        runner = RayChunkRunner(model=model, backend=backend, dedup=job.dedup, cache_size=job.cache_size,
                                address=ray_address, actors=ray_actors, log=log)
    else:
        if classifier is None:
            from .onnx_backend import fast_classifier

            classifier = fast_classifier(model, backend=backend, log=log)
        runner = LocalChunkRunner(ChunkAnalyser(classifier, dedup=job.dedup, cache_size=job.cache_size))
    log(f"engine {engine}, backend {runner.backend}; {total} postings in the input(s)"
        + (f"; resuming after {len(done_chunks)} saved chunk(s)" if done_chunks else ""))
    bar = Progress(progress, total, initial=min(total or 0, len(done_chunks) * chunk_size))
    stream = enumerate(iter_postings(job.inputs, job.text_column, job.id_column))
    new_postings = 0
    try:
        for index, chunk in enumerate(chunked(stream, chunk_size)):
            if index in done_chunks:
                continue
            good = [(seq, item) for seq, item in chunk if isinstance(item, PostingInput)]
            errors = [{"seq": seq, "source": item.source, "reason": item.reason}
                      for seq, item in chunk if isinstance(item, PostingError)]
            postings, lines = runner.process(good, with_lines=job.lines_out is not None)
            write_chunk(job.parts_dir, index, postings, lines, errors)
            new_postings += len(chunk)
            bar.update(len(chunk), runner.lines_seen)
    finally:
        bar.close()
        runner.close()
    summary = assemble(job)
    elapsed = time.perf_counter() - started
    summary.update({
        "engine": engine, "backend": runner.backend, "seconds": round(elapsed, 2),
        "postings_this_run": new_postings,
        "postings_per_s": round(new_postings / elapsed, 2) if elapsed > 0 else None,
        "lines_this_run": runner.lines_seen, "lines_classified_this_run": runner.lines_classified,
        "dedup": job.dedup,
    })
    if job.report is not None:
        from .batch_report import write_report

        write_report(job.report, summary)
    shutil.rmtree(job.parts_dir)
    return summary


class LocalChunkRunner:
    def __init__(self, analyser: ChunkAnalyser):
        self.analyser = analyser
        self.backend = getattr(analyser.classifier, "backend", "torch")

    @property
    def lines_seen(self) -> int:
        return self.analyser.lines_seen

    @property
    def lines_classified(self) -> int:
        return self.analyser.lines_classified

    def process(self, good: list[tuple[int, PostingInput]], with_lines: bool) -> tuple[list[dict], list[dict]]:
        postings, lines = [], []
        analysed = self.analyser.analyse([item for _, item in good])
        for (seq, _), (item, analysis) in zip(good, analysed):
            postings.append(posting_row(seq, item, analysis))
            if with_lines:
                lines.extend(line_rows(seq, item, analysis))
        return postings, lines

    def close(self) -> None:
        pass


# --- assembling the outputs ------------------------------------------------------------------

def _part_files(parts: Path, kind: str) -> list[Path]:
    return sorted(parts.glob(f"chunk-*.{kind}.parquet"))


def assemble(job: BatchJob) -> dict:
    """Stream the parts into the outputs (atomically) and summarise them."""
    from .batch_report import SummaryBuilder

    summary = SummaryBuilder()
    parts = job.parts_dir
    schemas = _schemas()
    write_table_stream(job.out, _part_files(parts, "postings"), schemas["postings"], on_batch=summary.add)
    if job.lines_out is not None:
        write_table_stream(job.lines_out, _part_files(parts, "lines"), schemas["lines"])
    n_errors = write_errors(job.errors_path, _part_files(parts, "errors"))
    result = summary.result()
    result.update({"errors": n_errors, "output": str(job.out),
                   "errors_file": str(job.errors_path) if n_errors else None,
                   "lines_output": str(job.lines_out) if job.lines_out else None})
    return result


def write_table_stream(path: Path, files: list[Path], schema, on_batch=None) -> int:
    """Concatenate Parquet part files into ``path`` (parquet, csv or jsonl), one part at a time."""
    import pyarrow.parquet as pq

    fmt = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    if fmt == "parquet":
        with pq.ParquetWriter(tmp, schema) as writer:
            for table in _read_parts(files, on_batch):
                writer.write_table(table)
                rows += table.num_rows
    else:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f) if fmt == "csv" else None
            if writer is not None:
                writer.writerow(schema.names)
            for table in _read_parts(files, on_batch):
                rows += table.num_rows
                for row in table.to_pylist():
                    if writer is not None:
                        writer.writerow([safe_cell(v) for v in row.values()])
                    else:
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return rows


def _read_parts(files: list[Path], on_batch=None):
    import pyarrow.parquet as pq

    for file in files:
        table = pq.read_table(file)
        if on_batch is not None:
            on_batch(table)
        yield table


def write_errors(path: Path, files: list[Path]) -> int:
    import pyarrow.parquet as pq

    rows = [row for file in files for row in pq.read_table(file).to_pylist()]
    if not rows:
        if path.exists():
            path.unlink()
        return 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "reason"])
        for row in rows:
            w.writerow([safe_cell(row["source"]), safe_cell(row["reason"])])
    os.replace(tmp, path)
    return len(rows)

