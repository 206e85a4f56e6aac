"""The line classifier: a fine-tuned transformer that scores each line against the five labels.

Shaped like SetFit's model API: ``LineClassifier.from_pretrained(dir)``, ``save_pretrained``,
``predict_proba(lines) -> array[N, K]`` (columns in label order) and ``predict(lines)``.
Scores only: turning them into a verdict is :func:`classifier.analysis.analyze_posting`'s job.

A line is a string, a mapping with ``text`` and optional ``section``, or a
:class:`classifier.segment.Line`; the section header is given to the model as a text pair.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import ModelError
from .labels import LABEL_NAMES

FORMAT_VERSION = 1
MODELS_DIR = Path(os.environ.get("JDROLES_MODELS_DIR", Path(__file__).resolve().parents[1] / "models"))
DEFAULT_MODEL_NAME = "jd-roles-minilm"
MAX_LENGTH = 128


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"label": self.label, "confidence": self.confidence, "scores": self.scores}


def default_model_path() -> Path:
    """The model the CLI and app use when none is named: ``JDROLES_MODEL``, then the
    ``models/DEFAULT`` pointer (set by ``jdroles models use``), then the shipped model."""
    if os.environ.get("JDROLES_MODEL"):
        return Path(os.environ["JDROLES_MODEL"])
    pointer = MODELS_DIR / "DEFAULT"
    if pointer.is_file():
        name = pointer.read_text().strip()
        if name:
            return MODELS_DIR / name
    return MODELS_DIR / DEFAULT_MODEL_NAME


def line_text_and_section(line: Any) -> tuple[str, str | None]:
    if isinstance(line, str):
        return line, None
    if isinstance(line, dict):
        return str(line.get("text", "")), line.get("section") or None
    if hasattr(line, "text"):
        return str(line.text), getattr(line, "section", None) or None
    raise TypeError(f"a line must be a str, a dict with 'text' or a segment.Line, not {type(line).__name__}")


def resolve_device(device: str = "auto") -> str:
    import torch

    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise ModelError(f"device {device!r}; expected auto, cpu or cuda")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("device 'cuda' asked for, but no CUDA GPU is available here")
    return device


def check_model_dir(path: Path) -> dict:
    """Refuse folders that are missing, not ours, or hold only pickled weights."""
    if not path.exists():
        raise ModelError(f"model folder {path} does not exist")
    if not path.is_dir():
        raise ModelError(f"{path} is a file; a model is a folder with config.json and model.safetensors")
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ModelError(f"{path} has no config.json; is it a model folder made by 'jdroles train'?")
    if not (path / "model.safetensors").is_file():
        pickles = sorted(p.name for p in path.glob("*.bin")) + sorted(p.name for p in path.glob("*.pt*"))
        if pickles:
            raise ModelError(f"{path} holds only pickled weights ({', '.join(pickles)}); jd-roles loads "
                             "safetensors only, since pickles can run code when loaded")
        raise ModelError(f"{path} has no model.safetensors")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{config_path} is not valid JSON ({err})") from err
    labels = [config.get("id2label", {}).get(str(i)) for i in range(len(LABEL_NAMES))]
    if labels != list(LABEL_NAMES) or len(config.get("id2label", {})) != len(LABEL_NAMES):
        raise ModelError(f"{path}: id2label is {config.get('id2label')}; expected the five labels "
                         f"{', '.join(LABEL_NAMES)} in that order")
    version = config.get("jdroles_format_version", FORMAT_VERSION)
    if version > FORMAT_VERSION:
        raise ModelError(f"{path} has format version {version}; this jd-roles reads up to {FORMAT_VERSION}: upgrade jd-roles")
    return config


class LineClassifier:
    """Scores job-description lines against PM, PMM, shared, marketing-ops and other."""

    backend = "torch"
    tensor_type = "pt"  # what the tokenizer returns for ``forward``

    def __init__(self, model, tokenizer, name: str = "", device: str = "cpu", batch_size: int = 64,
                 max_length: int = MAX_LENGTH):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model.eval() if model is not None else None
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.labels: tuple[str, ...] = LABEL_NAMES
        self.id2label = dict(enumerate(LABEL_NAMES))
        self.label2id = {label: i for i, label in self.id2label.items()}

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str = "auto", batch_size: int = 64,
                        num_threads: int | None = None) -> "LineClassifier":
        """Load a saved model folder; ``None`` loads the default model."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        path = Path(path) if path is not None else default_model_path()
        config = check_model_dir(path)
        device = resolve_device(device)
        if device == "cpu" and num_threads:
            torch.set_num_threads(num_threads)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                str(path), local_files_only=True, use_safetensors=True, dtype=torch.float32)
        except (OSError, ValueError) as err:
            raise ModelError(f"could not load the model in {path}: {err}") from err
        model.to(device)
        name = config.get("jdroles_model_name", path.name)
        return cls(model, tokenizer, name=name, device=device, batch_size=batch_size,
                   max_length=config.get("jdroles_max_length", MAX_LENGTH))

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        self.model.config.jdroles_format_version = FORMAT_VERSION
        self.model.save_pretrained(str(path), safe_serialization=True)
        self.tokenizer.save_pretrained(str(path))

    def encode(self, lines: Sequence[Any]):
        texts, sections = zip(*(line_text_and_section(l) for l in lines)) if lines else ((), ())
        pairs = [s or "" for s in sections]
        return self.tokenizer(list(texts), pairs, truncation=True, max_length=self.max_length,
                              padding=True, return_tensors=self.tensor_type)

    def logits(self, lines: Sequence[Any], progress: bool = False) -> np.ndarray:
        """Raw logits [N, K] for ``lines``, computed in length-sorted batches."""
        import torch

        lines = _as_list(lines)
        if not lines:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        lengths = [len(text) + len(section or "") for text, section in map(line_text_and_section, lines)]
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(lines), len(self.labels)), dtype=np.float32)
        batches = range(0, len(lines), self.batch_size)
        if progress:
            from tqdm.auto import tqdm
            batches = tqdm(batches, unit="batch", desc="classifying")
        with torch.inference_mode():
            for start in batches:
                idx = order[start:start + self.batch_size]
                out[idx] = self.forward([lines[i] for i in idx])
        return out

    def forward(self, batch: Sequence[Any]) -> np.ndarray:
        """Logits of one batch of lines (no sorting, no batching)."""
        enc = self.encode(batch).to(self.device)
        return self.model(**enc).logits.float().cpu().numpy()

    def predict_proba(self, lines: Sequence[Any], progress: bool = False) -> np.ndarray:
        """Calibrated probabilities [N, K], columns in ``self.labels`` order."""
        return softmax(self.logits(lines, progress=progress))

    def predict(self, lines: Sequence[Any], progress: bool = False) -> list[Prediction]:
        """Per line: the label, its calibrated confidence, and the scores of all five labels."""
        probs = self.predict_proba(lines, progress=progress)
        return [predictions_from_probs(row, self.labels) for row in probs]


def predictions_from_probs(row: np.ndarray, labels: Sequence[str]) -> Prediction:
    best = int(np.argmax(row))
    return Prediction(labels[best], float(row[best]), {label: float(p) for label, p in zip(labels, row)})


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _as_list(lines: Iterable[Any]) -> list:
    if isinstance(lines, (str, bytes)):
        raise TypeError("predict takes a list of lines; wrap a single line in a list")
    return list(lines)
