"""``jdroles batch``: classify whole archives of job descriptions (see :mod:`classifier.batch`)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import InputError


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import BatchJob, run_batch
    from .batch_report import format_summary

    if args.chunk_size < 1:
        raise InputError("--chunk-size must be at least 1")
    job = BatchJob(inputs=[Path(p) for p in args.inputs], out=Path(args.out),
                   lines_out=Path(args.lines_out) if args.lines_out else None,
                   text_column=args.text_column, id_column=args.id_column, chunk_size=args.chunk_size,
                   dedup=not args.no_dedup, report=Path(args.report) if args.report else None,
                   restart=args.restart, overwrite=args.overwrite)
    quiet = args.quiet or args.progress == "none"
    log = (lambda m: None) if quiet else (lambda m: print(m, file=sys.stderr))
    progress = "none" if quiet and args.progress != "json" else args.progress
    try:
        summary = run_batch(job, engine=args.engine, progress=progress, model=Path(args.model) if args.model else None,
                            backend=args.backend, ray_address=args.ray_address, ray_actors=args.ray_actors, log=log)
    except KeyboardInterrupt:
        print(f"jdroles batch: interrupted; finished chunks are kept in {job.parts_dir}: "
              "run the same command to resume", file=sys.stderr)
        return 130
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary, indent=1))
    if not args.quiet:
        print(format_summary(summary))
        if job.report:
            print(f"report: {job.report}")
    return 0


def add_batch(sub) -> None:
    p = sub.add_parser(
        "batch", help="classify folders, zips, CSV / JSONL / Parquet files of postings (resumable)",
        description="Classify every posting of the inputs: one output row per posting (source, verdict, role mix, "
                    "role load, title check), optionally one per line. Finished chunks are saved as they go: "
                    "after a crash or Ctrl-C the same command resumes. Unreadable inputs go to RESULT.errors.csv.")
    p.add_argument("inputs", nargs="+", help="folders of txt/md/html/pdf/docx, zip archives, .csv/.jsonl/.parquet files")
    p.add_argument("--out", required=True, help="result file: .parquet (recommended), .csv or .jsonl")
    p.add_argument("--lines-out", help="also write one row per line to this .parquet/.csv/.jsonl file")
    p.add_argument("--text-column", help="column holding the posting text in CSV/JSONL/Parquet inputs")
    p.add_argument("--id-column", help="column whose value names each posting (the 'source')")
    p.add_argument("--engine", choices=("local", "ray"), default="local")
    p.add_argument("--ray-address", help="join an existing Ray cluster (default: start a local Ray)")
    p.add_argument("--ray-actors", type=int, help="model actors in the Ray pool")
    p.add_argument("--model", help="model folder (default: the default model)")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                   help="auto: torch on a GPU, else int8 ONNX when installed and validated, else torch")
    p.add_argument("--report", help="write an HTML summary report here")
    p.add_argument("--summary-json", help="write the run summary as JSON here")
    p.add_argument("--chunk-size", type=int, default=256, help="postings per saved chunk")
    p.add_argument("--no-dedup", action="store_true", help="classify repeated lines again (for comparison)")
    p.add_argument("--progress", choices=("bar", "json", "none"), default="bar",
                   help="progress bar, JSON lines on stderr, or nothing")
    p.add_argument("--quiet", action="store_true", help="no progress and no summary")
    p.add_argument("--restart", action="store_true", help="discard an unfinished run's saved chunks")
    p.add_argument("--overwrite", action="store_true", help="replace an existing result file")
    p.set_defaults(func=cmd_batch)
