"""Train, calibrate, export and evaluate in one run: what ``jdroles train`` and
``jdroles evaluate`` call."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from classifier.model import LineClassifier

from .data import load_corpus, load_labelled_file, shared_eval_sets
from .modelcard import write_model_card
from .evaluate import TfidfBaseline, ZeroShotBaseline, classification_metrics, write_report
from .train import TrainConfig, base_model_dir, calibrate, export, fine_tune


def rows_of(ds) -> list[dict]:
    return [{"text": t, "section": s} for t, s in zip(ds["text"], ds["section"])]


def evaluation_sets(corpus=None, extra: list[Path] = (), include_shared: bool = True) -> dict:
    """name -> dataset: the corpus test split, every labelled set under ../shared/eval, extras."""
    sets = {}
    if corpus is not None:
        sets["corpus/test"] = corpus["test"]
    if include_shared:
        for name, path in shared_eval_sets().items():
            sets[name] = load_labelled_file(path)
    for path in extra:
        sets[f"file/{Path(path).name}"] = load_labelled_file(path)
    return sets


def evaluate_sets(classifier: LineClassifier, sets: dict, train_ds=None, baselines: bool = True, log=print) -> dict:
    """Metrics of the model, and of the TF-IDF and zero-shot baselines, on every set."""
    tfidf = zero_shot = None
    if baselines and train_ds is not None:
        tfidf = TfidfBaseline().fit(train_ds["text"], train_ds["section"], train_ds["labels"])
    if baselines:
        zero_shot = ZeroShotBaseline(base_model_dir())
    results = {}
    for name, ds in sets.items():
        y = np.asarray(ds["labels"])
        by_system = {"model": classification_metrics(y, classifier.predict_proba(rows_of(ds)))}
        if tfidf is not None:
            by_system["tfidf"] = classification_metrics(y, tfidf.predict_proba(ds["text"], ds["section"]))
        if zero_shot is not None:
            by_system["zero_shot"] = classification_metrics(y, zero_shot.predict_proba(ds["text"]))
        log(f"{name}: " + ", ".join(f"{system} macro-F1 {m['macro_f1']:.3f}" for system, m in by_system.items()))
        results[name] = by_system
    return results


def train_default(out_dir: Path, config: TrainConfig, corpus_dir: Path | None = None, log=print,
                  name: str | None = None, base: Path | None = None) -> dict:
    """Fine-tune on the corpus (from ``base``, the base encoder by default), calibrate on its
    validation split, export, evaluate. ``name`` defaults to the folder's name."""
    started = time.perf_counter()
    name = name or Path(out_dir).name
    corpus = load_corpus(corpus_dir) if corpus_dir else load_corpus()
    log(f"corpus: {len(corpus['train'])} train, {len(corpus['validation'])} validation, {len(corpus['test'])} test lines")
    model, tokenizer, info = fine_tune(corpus["train"], corpus["validation"], config, base=base, log=log)
    info.update(calibrate(model, tokenizer, corpus["validation"], config.max_length))
    info["trained_on"] = f"data/corpus train split ({len(corpus['train'])} lines)"
    info["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    export(model, tokenizer, out_dir, info, dtype=config.export_dtype, name=name)
    info["total_seconds"] = time.perf_counter() - started
    classifier = LineClassifier.from_pretrained(out_dir)
    results = evaluate_sets(classifier, evaluation_sets(corpus), corpus["train"], log=log)
    info["model_name"] = name
    info["export"] = f"{config.export_dtype} safetensors"
    write_report(out_dir, results, info)
    write_model_card(out_dir)
    return {"info": info, "results": results}
