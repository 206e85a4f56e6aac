"""``jdroles models`` (list, with metrics) and ``jdroles models use NAME`` over :mod:`classifier.registry`."""
from __future__ import annotations

import argparse
import json
import os

from .errors import InputError
from . import registry


def size_text(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def cmd_models(args: argparse.Namespace) -> int:
    if args.action == "use":
        return cmd_use(args)
    if args.name:
        raise InputError(f"unknown action {args.action!r}; expected 'use' (jdroles models use NAME)")
    entries = registry.list_models()
    if args.format == "json":
        print(json.dumps([e.to_dict() for e in entries], indent=1))
        return 0
    print_table(entries)
    if os.environ.get("JDROLES_MODEL"):
        print(f"note: JDROLES_MODEL={os.environ['JDROLES_MODEL']} is set and overrides models/DEFAULT")
    return 0


def print_table(entries: list[registry.ModelEntry]) -> None:
    from rich.console import Console
    from rich.table import Table

    sets = sorted({s for e in entries for s in e.macro_f1})
    table = Table(title=f"models in {registry.models_dir()} (* = default; macro-F1 by evaluation set)")
    for column in ("", "name", *sets, "size", "created"):
        table.add_column(column, overflow="fold")
    for e in entries:
        scores = [f"{e.macro_f1[s]:.3f}" if s in e.macro_f1 else "-" for s in sets]
        name = e.name + (f" (broken: {e.problem})" if e.problem else "")
        table.add_row("*" if e.is_default else "", name, *scores, size_text(e.size_bytes), e.created)
    Console().print(table)


def cmd_use(args: argparse.Namespace) -> int:
    if args.previous:
        new, old = registry.use_previous()
    elif args.name:
        new, old = registry.use_model(args.name)
    else:
        raise InputError("name the model to use (jdroles models use NAME) or pass --previous")
    print(f"default model: {new} (was {old}; 'jdroles models use --previous' switches back)")
    return 0


def add_models(sub) -> None:
    p = sub.add_parser("models", help="list the models with their metrics; 'use NAME' makes one the default")
    p.add_argument("action", nargs="?", choices=("list", "use"), default="list")
    p.add_argument("name", nargs="?", help="with 'use': a folder name under models/ (or a model folder path)")
    p.add_argument("--previous", action="store_true", help="with 'use': switch back to the previous default")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_models)
