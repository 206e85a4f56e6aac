"""The models on this machine and which one is the default: what ``jdroles models`` shows and sets.

Models are folders under ``models/`` (``JDROLES_MODELS_DIR``). The default for the CLI and
the app is named in ``models/DEFAULT`` (read by :func:`classifier.model.default_model_path`;
``JDROLES_MODEL`` still overrides it). Switching writes a temporary file and renames it over
``DEFAULT`` (an atomic switch: a reader sees the old name or the new one, never half of
one), after keeping the name it replaces in ``DEFAULT.previous`` for ``--previous``.
Runtime code: it never imports :mod:`training`.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import model as model_module
from .errors import InputError, ModelError
from .model import DEFAULT_MODEL_NAME, check_model_dir

POINTER = "DEFAULT"
PREVIOUS = "DEFAULT.previous"


@dataclass
class ModelEntry:
    name: str
    path: Path
    is_default: bool
    macro_f1: dict[str, float] = field(default_factory=dict)   # set -> macro-F1 of this model
    size_bytes: int = 0
    created: str = ""
    problem: str = ""   # why the folder would not load, if it would not

    def to_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "default": self.is_default, "macro_f1": self.macro_f1,
                "size_bytes": self.size_bytes, "created": self.created, "problem": self.problem}


def models_dir() -> Path:
    return model_module.MODELS_DIR


def default_name(root: Path | None = None) -> str:
    """The name in ``DEFAULT``, or the shipped model's when there is no pointer."""
    pointer = (root or models_dir()) / POINTER
    name = pointer.read_text().strip() if pointer.is_file() else ""
    return name or DEFAULT_MODEL_NAME


def previous_name(root: Path | None = None) -> str | None:
    path = (root or models_dir()) / PREVIOUS
    name = path.read_text().strip() if path.is_file() else ""
    return name or None


def read_metrics(path: Path) -> tuple[dict[str, float], str]:
    """(set -> macro-F1, created) from a model folder's metrics.json, empty when absent."""
    try:
        metrics = json.loads((path / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}, ""
    scores = {name: float(by["model"]["macro_f1"]) for name, by in metrics.get("results", {}).items()
              if isinstance(by, dict) and "macro_f1" in by.get("model", {})}
    return scores, str(metrics.get("info", {}).get("created", ""))


def describe(path: Path, is_default: bool) -> ModelEntry:
    scores, created = read_metrics(path)
    weights = path / "model.safetensors"
    if not created and weights.is_file():
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(weights.stat().st_mtime))
    try:
        check_model_dir(path)
        problem = ""
    except ModelError as err:
        problem = str(err)
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    return ModelEntry(path.name, path, is_default, scores, size, created, problem)


def list_models(root: Path | None = None) -> list[ModelEntry]:
    """Every model folder (a folder with config.json) under the models folder, by name."""
    root = root or models_dir()
    current = default_name(root)
    if not root.is_dir():
        return []
    folders = sorted(p for p in root.iterdir()
                     if p.is_dir() and not p.name.startswith(".") and (p / "config.json").is_file())
    return [describe(p, p.name == current) for p in folders]


def resolve(name: str, root: Path) -> tuple[str, Path]:
    """(what DEFAULT will hold, the folder) for a model name under ``root`` or a folder path."""
    candidate = root / name
    if not candidate.exists() and Path(name).exists():
        candidate = Path(name)
    candidate = candidate.resolve()
    try:
        stored = str(candidate.relative_to(root.resolve()))
    except ValueError:
        stored = str(candidate)
    return stored, candidate


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def use_model(name: str, root: Path | None = None) -> tuple[str, str]:
    """Make ``name`` the default model; returns (new, previous). The folder is checked first;
    a folder that would not load is refused and nothing changes."""
    root = root or models_dir()
    stored, path = resolve(name, root)
    if not path.exists():
        known = ", ".join(e.name for e in list_models(root)) or "none"
        raise InputError(f"no model {name!r} in {root}; models there: {known}")
    check_model_dir(path)
    previous = default_name(root)
    root.mkdir(parents=True, exist_ok=True)
    if previous != stored:
        _write_atomically(root / PREVIOUS, previous + "\n")
    _write_atomically(root / POINTER, stored + "\n")
    return stored, previous


def use_previous(root: Path | None = None) -> tuple[str, str]:
    """Switch back to the model that was the default before the last switch."""
    root = root or models_dir()
    previous = previous_name(root)
    if previous is None:
        raise InputError(f"no previous default recorded in {root / PREVIOUS}; name a model: jdroles models use NAME")
    return use_model(previous, root)
