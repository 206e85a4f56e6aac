"""Likely label errors in a team's data: out-of-fold predictions that confidently disagree.

Cheap by design, so it runs on every ``jdroles train --data``: each line is embedded once
with the frozen base encoder (all-MiniLM-L6-v2, mean-pooled sentence embeddings), and a
logistic regression predicts every line from a model that never saw it (k folds, grouped
by posting when ``posting_id`` exists). Fine-tuning the transformer k times would cost k
training runs; on a few hundred lines the embeddings + logistic regression find the same
kind of inconsistency in seconds.

A line is flagged, as in confident learning (cleanlab), when the out-of-fold model prefers
another label and is at least as sure of it as it is, on average, of lines that carry that
label (and more than even odds), while the given label scores below its own average. The
review file lists them, least-believed first: a person decides; nothing is relabelled.
"""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np

from classifier.labels import LABEL2ID, LABEL_NAMES

REVIEW_FILE = "label-review.csv"
MIN_CONFIDENCE = 0.5   # a disagreement is confident only when another label is more likely than not
REVIEW_COLUMNS = ("place", "posting_id", "section", "text", "label", "suggested", "p_label", "p_suggested")


def fold_ids(labels: np.ndarray, groups: list[str], folds: int, seed: int) -> np.ndarray:
    """The fold of every line: stratified by label, whole postings kept together."""
    from sklearn.model_selection import StratifiedGroupKFold

    codes = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    group_ids = np.array([codes[g] for g in groups])
    folds = max(2, min(folds, len(codes)))
    out = np.zeros(len(labels), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only N members"
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        for k, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels, group_ids)):
            out[test] = k
    return out


def out_of_fold_probs(features: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Probabilities [N, K] of every line from a logistic regression trained on the other folds."""
    from sklearn.linear_model import LogisticRegression

    probs = np.full((len(labels), len(LABEL_NAMES)), 1.0 / len(LABEL_NAMES))
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        if len(np.unique(labels[train])) < 2:
            continue
        model = LogisticRegression(C=2.0, max_iter=2000, class_weight="balanced").fit(features[train], labels[train])
        full = np.zeros((int(test.sum()), len(LABEL_NAMES)))
        full[:, model.classes_] = model.predict_proba(features[test])
        probs[test] = full
    return probs


def flag_label_issues(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Indices of lines whose out-of-fold prediction confidently disagrees with their label,
    least-believed label first."""
    labels = np.asarray(labels)
    thresholds = np.array([probs[labels == k, k].mean() if (labels == k).any() else 1.0
                           for k in range(probs.shape[1])])
    predicted = probs.argmax(axis=1)
    given = probs[np.arange(len(labels)), labels]
    best = probs[np.arange(len(labels)), predicted]
    confident = (best >= thresholds[predicted]) & (best >= MIN_CONFIDENCE)
    doubted = given < thresholds[labels]
    flagged = np.flatnonzero((predicted != labels) & confident & doubted)
    return flagged[np.argsort(given[flagged], kind="stable")]


def sentence_embeddings(texts: list[str], encoder_dir: Path | None = None) -> np.ndarray:
    from .evaluate import ZeroShotBaseline
    from .train import base_model_dir

    return ZeroShotBaseline(encoder_dir or base_model_dir()).embed(texts)


def review_records(records, folds: int = 5, seed: int = 42, encoder_dir: Path | None = None) -> tuple[list[dict], dict]:
    """Review rows for the likely label errors among ``records`` (teamdata.Record), and a summary."""
    labels = np.array([LABEL2ID[r.label] for r in records])
    groups = [r.posting_id or f"{r.place.source}:{r.place.number}" for r in records]
    features = sentence_embeddings([r.text for r in records], encoder_dir)
    probs = out_of_fold_probs(features, labels, fold_ids(labels, groups, folds, seed))
    rows = []
    for i in flag_label_issues(probs, labels):
        r, suggested = records[i], int(probs[i].argmax())
        rows.append({"place": f"{r.place.source} {r.place.unit} {r.place.number}", "posting_id": r.posting_id,
                     "section": r.section, "text": r.text, "label": r.label, "suggested": LABEL_NAMES[suggested],
                     "p_label": round(float(probs[i, labels[i]]), 3),
                     "p_suggested": round(float(probs[i, suggested]), 3)})
    accuracy = float((probs.argmax(axis=1) == labels).mean()) if len(labels) else 0.0
    summary = {"method": f"logistic regression on frozen all-MiniLM-L6-v2 embeddings, {folds}-fold out-of-fold, "
                         "grouped by posting", "lines": len(records), "flagged": len(rows),
               "out_of_fold_accuracy": accuracy}
    return rows, summary


def write_review(path: Path, rows: list[dict]) -> Path:
    """The review file (CSV; cells that a spreadsheet would run as formulas are quoted with ')."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=REVIEW_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _formula_safe(v) for k, v in row.items()})
    return path


def _formula_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
