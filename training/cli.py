"""``jdroles train`` and ``jdroles evaluate``: argument parsing over :mod:`training.pipeline`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from classifier.errors import InputError


def cmd_evaluate(args: argparse.Namespace) -> int:
    from classifier.model import LineClassifier, default_model_path

    from .data import load_corpus
    from .evaluate import write_report
    from .pipeline import evaluate_sets, evaluation_sets

    model_path = Path(args.model) if args.model else default_model_path()
    classifier = LineClassifier.from_pretrained(model_path)
    corpus = None if args.no_corpus else load_corpus()
    sets = evaluation_sets(corpus, args.data, include_shared=not args.no_shared)
    if not sets:
        raise InputError("nothing to evaluate on: give --data FILE or keep the corpus / shared sets")
    results = evaluate_sets(classifier, sets, corpus["train"] if corpus else None,
                            baselines=not args.no_baselines, log=lambda m: print(m, file=sys.stderr))
    out = Path(args.out) if args.out else model_path
    write_report(out, results, {"model_name": classifier.name})
    print(f"wrote {out / 'metrics.json'} and {out / 'eval.md'}")
    return 0


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, macro-F1, per-label scores, confusion, ECE and baselines")
    p.add_argument("--data", action="append", default=[], type=Path,
                   help="a labelled file (jsonl/csv/parquet with text, label, optional section); repeatable")
    p.add_argument("--model", help="model folder (default: the default model)")
    p.add_argument("--out", help="folder for metrics.json and eval.md (default: the model folder)")
    p.add_argument("--no-corpus", action="store_true", help="skip the corpus test split (and the TF-IDF baseline)")
    p.add_argument("--no-shared", action="store_true", help="skip the labelled sets under ../shared/eval")
    p.add_argument("--no-baselines", action="store_true", help="skip the TF-IDF and zero-shot baselines")
    p.set_defaults(func=cmd_evaluate)


def cmd_train(args: argparse.Namespace) -> int:
    from .retrain import check_new_folder
    from .train import TrainConfig

    out = Path(args.out)
    check_new_folder(out)
    config = TrainConfig(epochs=args.epochs, seed=args.seed, max_steps=args.max_steps, learning_rate=args.learning_rate,
                         max_other_ratio=args.max_other_ratio, max_length=args.max_length)
    if args.data:
        train_team(args, out, config)
        print(f"model saved to {out} (eval.md and label-review.csv beside it); make it the default with "
              f"'jdroles models use {out.name}'")
    else:
        train_corpus(args, out, config)
        print(f"model saved to {out} (eval.md beside it)")
    return 0


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def train_team(args: argparse.Namespace, out: Path, config) -> None:
    """``--data``: check the options, then the data, then retrain (see :mod:`training.retrain`)."""
    from .retrain import RetrainConfig, new_model_folder, parse_mix, resolve_base, train_on_team_data

    base = args.base or "default"
    mix = parse_mix(args.mix_corpus or ("all" if base == "scratch" else "8"))
    resolve_base(base)
    team = checked_team_data(args)
    retrain = RetrainConfig(base=base, mix_corpus=mix, team_repeat=args.team_repeat, holdout=args.holdout,
                            shared_eval=not args.no_shared)
    with new_model_folder(out) as staging:
        train_on_team_data(staging, team, config, retrain, name=out.name, log=_log)


def train_corpus(args: argparse.Namespace, out: Path, config) -> None:
    """No ``--data``: fine-tune on the corpus, from the base encoder unless ``--base`` says otherwise."""
    from .pipeline import train_default
    from .retrain import new_model_folder, resolve_base

    base = None if (args.base or "scratch") == "scratch" else resolve_base(args.base)
    with new_model_folder(out) as staging:
        train_default(staging, config, log=_log, name=out.name, base=base)


def checked_team_data(args: argparse.Namespace):
    """Read and check ``--data``; print the report; refuse errors unless ``--force``."""
    from .teamdata import load_team_data

    team = load_team_data(args.data, min_per_label=args.min_per_label, corrections_db=args.corrections_db)
    print(team.report(), file=sys.stderr, end="")
    if not team.ok and not args.force:
        raise InputError(f"{len(team.errors)} problem(s) in the data (listed above); fix them, or pass --force "
                         "to train without the rows that have errors")
    if not team.records:
        raise InputError("no usable labelled lines to train on")
    return team


def add_train(sub) -> None:
    p = sub.add_parser("train", help="fine-tune the line classifier on the corpus or on your labelled lines")
    p.add_argument("--out", required=True, help="new model folder, e.g. models/my-model (never overwritten)")
    p.add_argument("--data", action="append", default=[], metavar="FILE",
                   help="your labelled lines (csv/jsonl/parquet: text, label, optional section, posting_id), or the "
                        "word 'corrections' for those saved by the web page; repeatable. Without it: the corpus")
    p.add_argument("--base", help="start from: 'default' (the current default model; the default with --data), "
                                  "'scratch' (the base encoder; the default without --data) or a model folder")
    p.add_argument("--mix-corpus", metavar="RATIO",
                   help="corpus lines mixed in per team line: 0 = your lines alone, 'all' = the whole corpus "
                        "train split (default: 8, or 'all' with --base scratch)")
    p.add_argument("--team-repeat", type=int, default=0, help="times each team line is seen per epoch (0 = automatic)")
    p.add_argument("--holdout", type=float, default=0.2, help="share of your postings held out for evaluation")
    p.add_argument("--force", action="store_true", help="train even when the data has errors (those rows left out)")
    p.add_argument("--min-per-label", type=int, default=5, help="fewer lines of a label than this is an error")
    p.add_argument("--corrections-db", type=Path, help="corrections store for --data corrections "
                                                       "(default: $JDROLES_DATA_DIR/corrections.sqlite)")
    p.add_argument("--no-shared", action="store_true", help="skip the labelled sets under ../shared/eval")
    from .train import TrainConfig

    defaults = TrainConfig()
    p.add_argument("--epochs", type=float, default=defaults.epochs)
    p.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    p.add_argument("--max-other-ratio", type=float, default=defaults.max_other_ratio,
                   help="keep at most this many 'other' lines per role line (0 keeps all)")
    p.add_argument("--max-length", type=int, default=defaults.max_length, help="tokens per line + section")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--max-steps", type=int, default=-1, help="cap on optimisation steps (for quick checks)")
    p.set_defaults(func=cmd_train)


def cmd_validate(args: argparse.Namespace) -> int:
    from .teamdata import load_team_data

    team = load_team_data(args.files, min_per_label=args.min_per_label, corrections_db=args.corrections_db)
    if args.format == "json":
        print(json.dumps(team.to_json(), indent=1))
    else:
        print(team.report(), end="")
    return 0 if team.ok else 1


def add_validate(sub) -> None:
    p = sub.add_parser("validate", help="check labelled lines before training: columns, labels, duplicates, conflicts")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="csv/jsonl/parquet with text, label (optional section, posting_id), or 'corrections'")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--min-per-label", type=int, default=5, help="fewer lines of a label than this is an error")
    p.add_argument("--corrections-db", type=Path, help="corrections store for 'corrections'")
    p.set_defaults(func=cmd_validate)
