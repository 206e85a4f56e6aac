"""The ``jdroles`` command: a thin layer over the Python API.

Each sub-command parses its arguments and calls plain functions; bad input ends in a
one-line message on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Callable, Sequence

from .errors import InputError, ModelError
from .readers import Document, read_bytes, read_path

EXIT_INPUT = 2


def load_document(source: str) -> Document:
    """A job description from a path, or from stdin when ``source`` is ``-``."""
    if source == "-":
        return read_bytes(sys.stdin.buffer.read(), "stdin")
    return read_path(source)


def write_jsonl(rows, out=None) -> None:
    out = out or sys.stdout
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def cmd_segment(args: argparse.Namespace) -> int:
    from .segment import segment_document

    lines = segment_document(load_document(args.file))
    if args.format == "jsonl":
        write_jsonl(line.to_dict() for line in lines)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, title=f"{len(lines)} lines")
    for column in ("#", "line", "kind", "section", "text"):
        table.add_column(column, overflow="fold")
    for line in lines:
        table.add_row(str(line.index), str(line.line_no), line.kind, line.section or "", line.text)
    Console().print(table)
    return 0


def add_segment(sub) -> None:
    p = sub.add_parser("segment", help="cut a job description into the lines that get classified")
    p.add_argument("file", help="a .txt, .md, .html, .pdf or .docx file, or - for stdin")
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    p.set_defaults(func=cmd_segment)


# Sub-commands defined in other modules, imported only when used (keeps start-up fast and
# keeps the runtime free of training code): name -> "module:function that adds the parser".
EXTERNAL_COMMANDS: dict[str, str] = {
    "classify": "classifier.cli_classify:add_classify",
    "analyze": "classifier.cli_classify:add_analyze",
    "batch": "classifier.cli_batch:add_batch",
    "evaluate": "training.cli:add_evaluate",
    "train": "training.cli:add_train",
    "suggest": "training.suggest:add_suggest",
    "label": "training.label:add_label",
    "validate": "training.cli:add_validate",
    "models": "classifier.cli_models:add_models",
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jdroles",
        description="Label every line of a job description as PM, PMM, shared, marketing-ops or other, "
                    "and tell whether the posting is focused or a mixed 'mystic PM'.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"jd-roles {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_segment(sub)
    wanted = argv[0] if argv else None
    for name, target in EXTERNAL_COMMANDS.items():
        if wanted in (None, "-h", "--help", name):
            _load(target)(sub)
        else:
            sub.add_parser(name, help=f"see 'jdroles {name} --help'")
    return parser


def _load(target: str) -> Callable:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (InputError, ModelError) as err:
        print(f"jdroles {args.command}: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(f"jdroles {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
