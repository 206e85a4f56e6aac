"""Evaluation: metrics as plain dicts, the baselines a reviewer asks for, and the report.

``classification_metrics(y, probs)`` returns accuracy, macro-F1 (the primary metric),
per-label precision / recall / F1, the confusion matrix and the expected calibration error.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from classifier.labels import DESCRIPTIONS, LABEL_NAMES
from classifier.model import softmax

PRIMARY_METRIC = "macro_f1"


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Weighted gap between confidence and accuracy over equal-width confidence bins."""
    if len(y) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def classification_metrics(y: Sequence[int], probs: np.ndarray) -> dict:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y = np.asarray(y)
    pred = probs.argmax(axis=1)
    labels = list(range(len(LABEL_NAMES)))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    present = [i for i in labels if s[i] > 0]
    return {
        "n": int(len(y)),
        "accuracy": float((pred == y).mean()) if len(y) else 0.0,
        "macro_f1": float(np.mean([f[i] for i in present])) if present else 0.0,
        "ece": expected_calibration_error(probs, y),
        "per_label": {LABEL_NAMES[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                       "support": int(s[i])} for i in labels},
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
    }


def fit_temperature(logits: np.ndarray, y: Sequence[int]) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T)."""
    from scipy.optimize import minimize_scalar

    y = np.asarray(y)

    def nll(log_t: float) -> float:
        z = logits / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean())

    result = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded")
    return float(math.exp(result.x))


def pair_text(text: str, section: str | None) -> str:
    return f"{text} || {section or ''}"


class TfidfBaseline:
    """TF-IDF (word 1-2 grams and character 3-5 grams) + logistic regression on the same data."""

    def __init__(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.feature_extraction.text import TfidfVectorizer

        features = make_union(
            TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True, max_features=200_000))
        self.pipeline = make_pipeline(features, LogisticRegression(C=5.0, max_iter=3000, class_weight="balanced"))

    def fit(self, texts, sections, y) -> "TfidfBaseline":
        self.pipeline.fit([pair_text(t, s) for t, s in zip(texts, sections)], y)
        return self

    def predict_proba(self, texts, sections) -> np.ndarray:
        probs = self.pipeline.predict_proba([pair_text(t, s) for t, s in zip(texts, sections)])
        full = np.zeros((len(texts), len(LABEL_NAMES)))
        full[:, self.pipeline.classes_] = probs
        return full


def label_prototypes_text() -> dict[str, list[str]]:
    """What the zero-shot baseline knows of each label: its description and the standard's examples."""
    examples = {
        "PM": ["Own the product roadmap and prioritise the backlog with engineering.",
               "Write clear user stories with acceptance criteria.",
               "Define success metrics for new features and track adoption."],
        "PMM": ["Craft positioning and messaging for new product launches.",
                "Build battlecards and train the sales team on competitive objections.",
                "Own the go-to-market plan for our enterprise tier."],
        "shared": ["Conduct customer interviews and market research to understand our buyers and users.",
                   "Partner with product, sales and marketing to define our target segments.",
                   "Work with leadership to set the pricing model."],
        "marketing-ops": ["Build and maintain lead scoring models in Marketo.",
                          "Manage the HubSpot instance, workflows and email sends.",
                          "Report weekly on MQL-to-SQL conversion and campaign attribution."],
        "other": ["We are an equal opportunity employer.", "Competitive salary and benefits.",
                  "Bachelor's degree and excellent communication skills.", "About us"],
    }
    return {label: [DESCRIPTIONS[label], *examples[label]] for label in LABEL_NAMES}


class ZeroShotBaseline:
    """Nearest label description with the frozen base encoder (mean-pooled, cosine)."""

    def __init__(self, base_dir: Path, device: str = "cpu"):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(base_dir), local_files_only=True).to(device).eval()
        self.device = device
        protos = label_prototypes_text()
        self.prototypes = np.stack([self.embed(protos[label]).mean(axis=0) for label in LABEL_NAMES])
        self.prototypes /= np.linalg.norm(self.prototypes, axis=1, keepdims=True)

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = []
        with self.torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                enc = self.tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                                     max_length=128, return_tensors="pt").to(self.device)
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1)
                out.append(self.torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.config.hidden_size))

    def predict_proba(self, texts, sections=None) -> np.ndarray:
        return softmax(self.embed(list(texts)) @ self.prototypes.T / 0.05)


# --- the report ----------------------------------------------------------------------------

def confusion_png(confusion: list[list[int]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(5.2, 4.4), dpi=110)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(LABEL_NAMES)), LABEL_NAMES, rotation=30, ha="right")
    ax.set_yticks(range(len(LABEL_NAMES)), LABEL_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(title, fontsize=10)
    limit = matrix.max() / 2 if matrix.size else 0
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > limit else "black", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def markdown_report(results: dict, info: dict) -> str:
    """A readable eval.md from the results of :func:`training.train.evaluate_sets`."""
    out = [f"# Evaluation of `{info.get('model_name', 'model')}`", ""]
    for key in ("trained_on", "training_seconds", "temperature", "ece_validation_before", "ece_validation_after",
                "export", "base_model"):
        if key in info:
            value = info[key]
            out.append(f"- **{key.replace('_', ' ')}**: {_fmt(value) if isinstance(value, float) else value}")
    out += ["", "## Summary (line macro-F1 / accuracy / ECE)", "",
            "| set | lines | model macro-F1 | model acc | model ECE | TF-IDF + LR macro-F1 | zero-shot macro-F1 |",
            "|---|---|---|---|---|---|---|"]
    for name, by_system in results.items():
        m = by_system["model"]
        out.append(f"| {name} | {m['n']} | {_fmt(m['macro_f1'])} | {_fmt(m['accuracy'])} | {_fmt(m['ece'])} | "
                   f"{_fmt(by_system['tfidf']['macro_f1']) if 'tfidf' in by_system else '-'} | "
                   f"{_fmt(by_system['zero_shot']['macro_f1']) if 'zero_shot' in by_system else '-'} |")
    for name, by_system in results.items():
        m = by_system["model"]
        out += ["", f"## {name}", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for label, row in m["per_label"].items():
            out.append(f"| {label} | {_fmt(row['precision'])} | {_fmt(row['recall'])} | {_fmt(row['f1'])} | {row['support']} |")
        out += ["", f"![confusion matrix]({confusion_file(name)})", ""]
    if "verdicts" in info:
        out += ["## Posting verdicts", "", info["verdicts"]]
    return "\n".join(out) + "\n"


def confusion_file(name: str) -> str:
    return "confusion_" + "".join(c if c.isalnum() else "_" for c in name) + ".png"


def write_report(out_dir: Path, results: dict, info: dict) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps({"info": info, "results": results}, indent=1))
    for name, by_system in results.items():
        confusion_png(by_system["model"]["confusion"], f"{info.get('model_name', 'model')} on {name}",
                      out_dir / confusion_file(name))
    (out_dir / "eval.md").write_text(markdown_report(results, info))
