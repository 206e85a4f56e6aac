"""Retrain on a team's labelled lines: split, mix, fine-tune, compare honestly, review labels.

What ``jdroles train --data`` calls, after :mod:`training.teamdata` has checked the data:

1. The team's lines are split into train / validation / held-out test, whole postings at a
   time when ``posting_id`` exists (stratified by label), so that no posting is on both sides.
2. Optionally a seeded sample of the corpus train split is mixed in (``mix_corpus`` corpus
   lines per team line, or all of it), leaving out corpus lines that are the same line as a
   team line (the team's label wins). Team lines are repeated so that they are not drowned
   (``team_repeat``; by default half the mix ratio, 1 to 4 times).
3. Fine-tuning starts from the default model, a model folder, or the base encoder
   (``base``), early-stops on validation macro-F1 and is calibrated on validation.
4. The new model and the model it would replace (the current default) are measured on the
   held-out team lines, on ``../shared/eval`` when present, and on the corpus test split when
   the corpus was mixed in; ``eval.md`` puts them side by side.
5. Out-of-fold predictions over all team lines flag likely label errors (``label-review.csv``).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classifier.errors import InputError, ModelError
from classifier.labels import LABEL2ID, LABEL_NAMES
from classifier.model import LineClassifier, check_model_dir, default_model_path

from .evaluate import classification_metrics, confusion_file, confusion_png
from .review import REVIEW_FILE, review_records, write_review
from .teamdata import TeamData, line_key
from .train import TrainConfig, base_model_dir, calibrate, export, fine_tune

HELD_OUT = "team/held-out"


@dataclass
class RetrainConfig:
    base: str = "default"            # "default", "scratch" or a model folder
    mix_corpus: float | None = 8.0   # corpus lines per team training line; None = the whole train split; 0 = none
    team_repeat: int = 0             # times each team training line is seen per epoch; 0 = from mix_corpus
    holdout: float = 0.2             # share of team lines (whole postings) held out for evaluation
    validation: float = 0.15         # share of the remaining team lines used for early stopping and calibration
    review_folds: int = 5
    shared_eval: bool = True


def resolve_base(spec: str) -> Path:
    """``default`` -> the current default model; ``scratch`` -> the base encoder; else a folder."""
    if spec == "scratch":
        return base_model_dir()
    path = default_model_path() if spec == "default" else Path(spec)
    check_model_dir(path)
    return path


def parse_mix(value: str) -> float | None:
    """``--mix-corpus``: a ratio >= 0, or ``all``."""
    if value.strip().lower() == "all":
        return None
    try:
        ratio = float(value)
    except ValueError:
        raise InputError(f"--mix-corpus {value!r}; expected a number of corpus lines per team line (e.g. 8), "
                         "0 or 'all'") from None
    if ratio < 0 or math.isnan(ratio):
        raise InputError(f"--mix-corpus {value!r}; expected a ratio of 0 or more, or 'all'")
    return ratio


def auto_repeat(mix_corpus: float | None) -> int:
    return 4 if mix_corpus is None else int(min(4, max(1, round(mix_corpus / 2))))


def check_new_folder(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} exists and is not empty; training never overwrites a model: pick a new --out")


@contextmanager
def new_model_folder(out: Path):
    """A staging folder beside ``out`` that becomes ``out`` only when training succeeds, so
    that an existing model is never overwritten and a failed run leaves nothing half-written."""
    out = Path(out)
    check_new_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield staging
        check_new_folder(out)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; a model folder is not
        try:
            os.rename(staging, out)  # atomic; replaces only an empty folder
        except OSError as err:
            raise InputError(f"could not create {out} ({err}); training never overwrites a model") from err
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


# --- splitting ------------------------------------------------------------------------------

def group_split(labels: list[int], groups: list[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(keep, held) row indices: about ``fraction`` of the rows, whole groups, stratified."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels, n = np.asarray(labels), len(labels)
    codes = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    if len(codes) < 2 or fraction <= 0:
        return np.arange(n), np.arange(0)
    folds = int(min(len(codes), max(2, round(1 / fraction))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        keep, held = next(splitter.split(np.zeros(n), labels, [codes[g] for g in groups]))
    return np.sort(keep), np.sort(held)


def split_team(team: TeamData, config: RetrainConfig, seed: int) -> dict[str, list]:
    """The team's records as train / validation / test lists, split by posting."""
    records = team.records
    groups = [r.posting_id or f"{r.place.source}:{r.place.number}" for r in records]
    labels = [LABEL2ID[r.label] for r in records]
    rest, test = group_split(labels, groups, config.holdout, seed)
    inner_fraction = config.validation / max(1e-9, 1 - config.holdout)
    train, val = group_split([labels[i] for i in rest], [groups[i] for i in rest], inner_fraction, seed + 1)
    return {name: [records[i] for i in idx] for name, idx in
            (("train", rest[train]), ("validation", rest[val]), ("test", test))}


def records_dataset(records, repeat: int = 1):
    import datasets

    rows = [{"text": r.text, "section": r.section, "label": r.label, "labels": LABEL2ID[r.label]} for r in records]
    return datasets.Dataset.from_list(rows * repeat, features=_features())


def _features():
    import datasets

    return datasets.Features({"text": datasets.Value("string"), "section": datasets.Value("string"),
                              "label": datasets.Value("string"), "labels": datasets.Value("int64")})


def corpus_sample(split, n: int | None, exclude: set[str], seed: int):
    """A seeded sample of ``n`` corpus lines (None: all) that are not the same line as a team line."""
    keep = [i for i, text in enumerate(split["text"]) if line_key(text) not in exclude]
    if n is not None and n < len(keep):
        keep = sorted(np.random.default_rng(seed).choice(keep, n, replace=False).tolist())
    return split.select(keep).select_columns(["text", "section", "label", "labels"]).cast(_features())


def build_training_sets(parts: dict[str, list], corpus, config: RetrainConfig, seed: int) -> tuple:
    """(train, validation) datasets: team lines (repeated) plus the corpus mix, and a summary."""
    import datasets

    n_train, n_val = len(parts["train"]), len(parts["validation"])
    repeat = config.team_repeat or auto_repeat(config.mix_corpus)
    train_parts, val_parts = [records_dataset(parts["train"], repeat)], [records_dataset(parts["validation"])]
    mix = {"team_train_lines": n_train, "team_validation_lines": n_val, "team_test_lines": len(parts["test"]),
           "team_repeat": repeat, "corpus_train_lines": 0, "corpus_validation_lines": 0}
    if corpus is not None:
        exclude = {line_key(r.text) for part in parts.values() for r in part}
        ratio = config.mix_corpus
        n_corpus = None if ratio is None else int(round(ratio * n_train))
        n_corpus_val = None if ratio is None else int(round(ratio * n_val))
        corpus_train = corpus_sample(corpus["train"], n_corpus, exclude, seed)
        corpus_val = corpus_sample(corpus["validation"], n_corpus_val, exclude, seed + 1)
        train_parts.append(corpus_train)
        val_parts.append(corpus_val)
        left_out = sum(1 for t in corpus["train"]["text"] if line_key(t) in exclude)
        mix.update(corpus_train_lines=len(corpus_train), corpus_validation_lines=len(corpus_val),
                   corpus_lines_left_out_as_team_lines=left_out)
    train = datasets.concatenate_datasets(train_parts).shuffle(seed=seed)
    val = datasets.concatenate_datasets(val_parts)
    if len(val) == 0:
        raise InputError("no lines left for validation (early stopping and calibration); add lines or postings")
    return train, val, mix


# --- evaluation -----------------------------------------------------------------------------

def evaluation_sets(test_records, corpus, include_shared: bool, exclude: set[str] = frozenset()) -> dict:
    """name -> (rows, labels): the team's held-out lines, ../shared/eval sets, and the corpus
    test split without the lines that are also team lines (``exclude``: their line keys)."""
    from .data import load_labelled_file, shared_eval_sets

    sets = {HELD_OUT: ([{"text": r.text, "section": r.section} for r in test_records],
                       np.array([LABEL2ID[r.label] for r in test_records], dtype=int))}
    if include_shared:
        for name, path in shared_eval_sets().items():
            ds = load_labelled_file(path)
            sets[name] = (_rows(ds), np.asarray(ds["labels"]))
    if corpus is not None:
        test = corpus["test"]
        test = test.select([i for i, text in enumerate(test["text"]) if line_key(text) not in exclude])
        sets["corpus/test"] = (_rows(test), np.asarray(test["labels"]))
    return sets


def _rows(ds) -> list[dict]:
    return [{"text": t, "section": s} for t, s in zip(ds["text"], ds["section"])]


def compare(models: dict[str, LineClassifier], sets: dict, log=print) -> dict:
    """results[set][system] = classification metrics, for every model (e.g. model, replaced)."""
    results = {}
    for name, (rows, y) in sets.items():
        if len(y) == 0:
            continue
        results[name] = {system: classification_metrics(y, clf.predict_proba(rows)) for system, clf in models.items()}
        log(f"{name}: " + ", ".join(f"{system} macro-F1 {m['macro_f1']:.3f}" for system, m in results[name].items()))
    return results


def replaced_model(log=print) -> tuple[LineClassifier | None, str]:
    """The model a new one would replace: the current default, if it loads, and its folder name."""
    path = default_model_path()
    try:
        return LineClassifier.from_pretrained(path), path.name
    except ModelError as err:
        log(f"no current default model to compare with ({err})")
        return None, path.name


def _f(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def side_by_side_markdown(results: dict, info: dict) -> str:
    """eval.md of a retrained model: new versus replaced, set by set and label by label."""
    new, old = info["model_name"], info.get("replaced_model") or "none"
    out = [f"# Evaluation of `{new}`", "",
           f"New model `{new}` beside the model it would replace, `{old}` (the default when it was trained).",
           "The held-out team lines are whole postings that training never saw; corpus/test leaves out",
           "lines that are also team lines.", ""]
    for key in ("trained_on", "base_model", "split", "corpus_mix", "training_seconds", "temperature", "export"):
        if key in info:
            value = info[key]
            out.append(f"- **{key.replace('_', ' ')}**: {_fmt_value(value)}")
    review = info.get("label_review", {})
    if review:
        out.append(f"- **label review**: {review['flagged']} of {review['lines']} team lines flagged as likely label "
                   f"errors in `{REVIEW_FILE}` ({review['method']})")
    out += ["", "## Summary (macro-F1 / accuracy)", "",
            "| set | lines | new macro-F1 | replaced macro-F1 | change | new acc | replaced acc |",
            "|---|---|---|---|---|---|---|"]
    for name, by in results.items():
        m, r = by["model"], by.get("replaced")
        change = f"{100 * (m['macro_f1'] - r['macro_f1']):+.1f} pts" if r else "-"
        out.append(f"| {name} | {m['n']} | {_f(m['macro_f1'])} | {_f(r and r['macro_f1'])} | {change} | "
                   f"{_f(m['accuracy'])} | {_f(r and r['accuracy'])} |")
    for name, by in results.items():
        m, r = by["model"], by.get("replaced")
        out += ["", f"## {name}", "", "| label | support | new F1 | replaced F1 | new recall | replaced recall |",
                "|---|---|---|---|---|---|"]
        for label in LABEL_NAMES:
            a, b = m["per_label"][label], r["per_label"][label] if r else None
            out.append(f"| {label} | {a['support']} | {_f(a['f1'])} | {_f(b and b['f1'])} | {_f(a['recall'])} | "
                       f"{_f(b and b['recall'])} |")
        out += ["", f"![confusion matrix of the new model]({confusion_file(name)})"]
    return "\n".join(out) + "\n"


def _fmt_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_fmt_value(v)}" for k, v in value.items())
    return str(value)


def write_side_by_side(out_dir: Path, results: dict, info: dict) -> None:
    from .train import _jsonable

    (out_dir / "metrics.json").write_text(json.dumps(_jsonable({"info": info, "results": results}), indent=1))
    for name, by in results.items():
        confusion_png(by["model"]["confusion"], f"{info['model_name']} on {name}", out_dir / confusion_file(name))
    (out_dir / "eval.md").write_text(side_by_side_markdown(results, info))


def describe_run(team: TeamData, parts: dict, mix: dict, config: RetrainConfig, base: Path, n_val: int) -> dict:
    """What metrics.json and eval.md say about the data, the split and the starting point."""
    corpus = f" + {mix['corpus_train_lines']} corpus lines" if mix["corpus_train_lines"] else ""
    return {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "base_model": config.base if config.base == str(base) else f"{config.base} ({base})",
            "trained_on": f"{' + '.join(team.sources)}: {len(parts['train'])} team lines{corpus}",
            "split": {"held_out_lines": len(parts["test"]), "by": "posting" if team.has_postings() else "line",
                      "validation_lines": n_val},
            "corpus_mix": mix, "retrain_config": asdict(config), "team_data": team.to_json()}


# --- the whole run --------------------------------------------------------------------------

def train_on_team_data(out_dir: Path, team: TeamData, train_config: TrainConfig, config: RetrainConfig,
                       name: str | None = None, log=print) -> dict:
    """Fine-tune on ``team`` (checked by :func:`training.teamdata.load_team_data`) and write a
    model folder with eval.md, metrics.json, label-review.csv and a model card into ``out_dir``."""
    from .data import load_corpus
    from .modelcard import write_model_card

    started = time.perf_counter()
    out_dir, name = Path(out_dir), name or Path(out_dir).name
    base = resolve_base(config.base)
    parts = split_team(team, config, train_config.seed)
    if not parts["test"]:
        raise InputError("the team data is too small to hold any posting out for evaluation; add postings or lines")
    log(f"team lines: {len(parts['train'])} train, {len(parts['validation'])} validation, {len(parts['test'])} held out"
        + (" (split by posting)" if team.has_postings() else " (split by line: no posting_id)"))
    corpus = load_corpus() if config.mix_corpus != 0 else None
    train_ds, val_ds, mix = build_training_sets(parts, corpus, config, train_config.seed)
    log(f"training set: {len(parts['train'])} team lines x {mix['team_repeat']} "
        f"+ {mix['corpus_train_lines']} corpus lines")
    model, tokenizer, info = fine_tune(train_ds, val_ds, train_config, base=base, log=log)
    info.update(calibrate(model, tokenizer, val_ds, train_config.max_length))
    info.update(describe_run(team, parts, mix, config, base, len(val_ds)), model_name=name,
                export=f"{train_config.export_dtype} safetensors")
    export(model, tokenizer, out_dir, info, dtype=train_config.export_dtype, name=name)
    rows, info["label_review"] = review_records(team.records, config.review_folds, train_config.seed)
    write_review(out_dir / REVIEW_FILE, rows)
    log(f"label review: {len(rows)} line(s) flagged in {REVIEW_FILE}")
    systems = {"model": LineClassifier.from_pretrained(out_dir)}
    old, old_name = replaced_model(log)
    if old is not None:
        systems["replaced"] = old
        info["replaced_model"] = old_name
    team_lines = {line_key(r.text) for r in team.records}
    results = compare(systems, evaluation_sets(parts["test"], corpus, config.shared_eval, team_lines), log=log)
    info["total_seconds"] = time.perf_counter() - started
    write_side_by_side(out_dir, results, info)
    write_model_card(out_dir)
    return {"info": info, "results": results}
