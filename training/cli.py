"""``jdroles train`` and ``jdroles evaluate``: argument parsing over :mod:`training.pipeline`."""
from __future__ import annotations

import argparse
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
    from .pipeline import train_default
    from .train import TrainConfig

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty; training never overwrites a model: pick a new --out")
    config = TrainConfig(epochs=args.epochs, seed=args.seed, max_steps=args.max_steps, learning_rate=args.learning_rate,
                         max_other_ratio=args.max_other_ratio, max_length=args.max_length)
    train_default(out, config, log=lambda m: print(m, file=sys.stderr))
    print(f"model saved to {out} (eval.md beside it)")
    return 0


def add_train(sub) -> None:
    p = sub.add_parser("train", help="fine-tune the line classifier on the corpus")
    p.add_argument("--out", required=True, help="new model folder, e.g. models/my-model")
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
