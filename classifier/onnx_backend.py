"""ONNX Runtime backend for fast CPU inference: the model exported once to ONNX and
quantised to int8 (dynamic, per-channel weights).

The export is cached per model (``JDROLES_CACHE_DIR``, else ``~/.cache/jd-roles``) together
with a validation record: macro-F1 of the torch model and of the int8 model on the labelled
lines available (the corpus test split, plus ``../shared/eval`` when present). The batch
engine picks the int8 model automatically only when it stays within one point of macro-F1.
Needs the optional extra ``onnx`` (``onnxruntime`` and ``onnx``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import ModelError
from .labels import LABEL2ID, LABEL_NAMES
from .model import MAX_LENGTH, LineClassifier, check_model_dir, default_model_path
from .readers import read_jsonl_file

MAX_MACRO_F1_DROP = 0.01
ONNX_FILE = "model.int8.onnx"
VALIDATION_FILE = "validation.json"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
REPO = Path(__file__).resolve().parents[1]


def onnx_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def cache_root() -> Path:
    root = os.environ.get("JDROLES_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "jd-roles"


def model_digest(model_dir: Path) -> str:
    """Identifies a model's weights and config: a changed model gets a fresh export."""
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        with (model_dir / name).open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def cache_dir_for(model_dir: Path) -> Path:
    return cache_root() / "onnx" / f"{model_dir.resolve().name}-{model_digest(model_dir)}"


def export_int8(model_dir: Path, out_dir: Path) -> Path:
    """Export ``model_dir`` to ONNX and quantise it to int8 in ``out_dir`` (written atomically)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    torch_clf = LineClassifier.from_pretrained(model_dir, device="cpu")
    sample = torch_clf.encode([{"text": "Own the product roadmap.", "section": "What you'll do"},
                               "We offer health insurance."])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    try:
        fp32 = tmp / "model.fp32.onnx"
        axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
        with torch.inference_mode():
            torch.onnx.export(torch_clf.model, tuple(sample[name] for name in INPUT_NAMES), str(fp32),
                              input_names=list(INPUT_NAMES), output_names=["logits"],
                              dynamic_axes={**axes, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
        # DefaultTensorType: shape inference cannot type every MatMul output of this graph
        quantize_dynamic(str(fp32), str(tmp / ONNX_FILE), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": 1})
        fp32.unlink()
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.replace(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir / ONNX_FILE


class OnnxLineClassifier(LineClassifier):
    """A :class:`LineClassifier` whose forward pass runs an int8 ONNX model."""

    backend = "onnx-int8"
    tensor_type = "np"

    def __init__(self, session, tokenizer, name: str = "", batch_size: int = 64, max_length: int = MAX_LENGTH,
                 validation: dict | None = None):
        super().__init__(None, tokenizer, name=name, device="cpu", batch_size=batch_size, max_length=max_length)
        self.session = session
        self.validation = validation or {}
        self._inputs = {i.name for i in session.get_inputs()}

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str = "cpu", batch_size: int = 64,
                        num_threads: int | None = None, log: Callable[[str], None] = lambda m: None
                        ) -> "OnnxLineClassifier":
        """Load the int8 export of ``path`` (the default model when None), exporting it first
        if the cache has none."""
        if not onnx_available():
            raise ModelError("the ONNX backend needs the 'onnx' extra: pip install 'jd-roles[onnx]'")
        if device not in ("cpu", "auto"):
            raise ModelError("the ONNX backend runs on the CPU; use the torch backend for a GPU")
        import onnxruntime as ort
        from transformers import AutoTokenizer

        model_dir = Path(path) if path is not None else default_model_path()
        config = check_model_dir(model_dir)
        cache = cache_dir_for(model_dir)
        if not (cache / ONNX_FILE).is_file():
            log(f"exporting {model_dir} to int8 ONNX (once; cached in {cache})")
            export_int8(model_dir, cache)
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads or min(os.cpu_count() or 1, 8)
        options.log_severity_level = 3
        session = ort.InferenceSession(str(cache / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        validation = None
        if (cache / VALIDATION_FILE).is_file():
            validation = json.loads((cache / VALIDATION_FILE).read_text())
        return cls(session, tokenizer, name=config.get("jdroles_model_name", model_dir.name), batch_size=batch_size,
                   max_length=config.get("jdroles_max_length", MAX_LENGTH), validation=validation)

    def forward(self, batch: Sequence[Any]) -> np.ndarray:
        enc = self.encode(batch)
        feeds = {name: enc[name].astype(np.int64) for name in INPUT_NAMES if name in self._inputs}
        return self.session.run(["logits"], feeds)[0].astype(np.float32)


# --- validation: is the int8 model as good as the torch model? -------------------------------

def reference_lines(repo: Path = REPO) -> list[dict]:
    """Labelled lines to check an export on: the corpus test split and ``../shared/eval``."""
    out: list[dict] = []
    corpus = repo / "data" / "corpus"
    if (corpus / "postings.jsonl").is_file() and (corpus / "lines.jsonl").is_file():
        test = {p["posting_id"] for p in read_jsonl_file(corpus / "postings.jsonl") if p.get("split") == "test"}
        out += [{"text": l["text"], "section": l.get("section"), "label": l["label"]}
                for l in read_jsonl_file(corpus / "lines.jsonl") if l["posting_id"] in test and l.get("kind") != "header"]
    shared = repo.parent / "shared" / "eval" / "real-lines.jsonl"
    if shared.is_file():
        out += [{"text": l["text"], "section": l.get("section"), "label": l["label"]} for l in read_jsonl_file(shared)]
    return [l for l in out if l["label"] in LABEL2ID]


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=list(range(len(LABEL_NAMES))), average="macro", zero_division=0))


def validate_export(model_dir: Path | None = None, lines: list[dict] | None = None,
                    log: Callable[[str], None] = lambda m: None) -> dict:
    """Compare the int8 export with the torch model on labelled lines; cache the record."""
    model_dir = Path(model_dir) if model_dir is not None else default_model_path()
    fast = OnnxLineClassifier.from_pretrained(model_dir, log=log)
    lines = reference_lines() if lines is None else lines
    if not lines:
        raise ModelError("no labelled lines to validate the ONNX export on (data/corpus is missing)")
    log(f"validating the int8 ONNX export on {len(lines)} labelled lines")
    y = [LABEL2ID[l["label"]] for l in lines]
    torch_pred = LineClassifier.from_pretrained(model_dir, device="cpu").logits(lines).argmax(axis=1)
    onnx_pred = fast.logits(lines).argmax(axis=1)
    record = {
        "lines": len(lines),
        "torch_macro_f1": round(macro_f1(y, torch_pred), 4),
        "onnx_int8_macro_f1": round(macro_f1(y, onnx_pred), 4),
        "agreement": round(float(np.mean(torch_pred == onnx_pred)), 4),
    }
    record["macro_f1_drop"] = round(record["torch_macro_f1"] - record["onnx_int8_macro_f1"], 4)
    record["accepted"] = record["macro_f1_drop"] <= MAX_MACRO_F1_DROP
    path = cache_dir_for(model_dir) / VALIDATION_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
    return record


def fast_classifier(path: str | Path | None = None, backend: str = "auto", device: str = "auto",
                    batch_size: int = 64, num_threads: int | None = None,
                    log: Callable[[str], None] = lambda m: None) -> LineClassifier:
    """The classifier a batch job should use.

    ``auto``: torch on a CUDA GPU when there is one; else the int8 ONNX model when the ``onnx``
    extra is installed and its validation record shows at most one point of macro-F1 lost
    (validated once per model, then cached); else torch on the CPU.
    """
    if backend not in ("auto", "torch", "onnx"):
        raise ModelError(f"backend {backend!r}; expected auto, torch or onnx")
    model_dir = Path(path) if path is not None else default_model_path()
    if backend == "torch":
        return LineClassifier.from_pretrained(model_dir, device=device, batch_size=batch_size, num_threads=num_threads)
    if backend == "auto":
        import torch

        if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
            return LineClassifier.from_pretrained(model_dir, device=device, batch_size=batch_size, num_threads=num_threads)
        if not onnx_available():
            return LineClassifier.from_pretrained(model_dir, device="cpu", batch_size=batch_size, num_threads=num_threads)
    check_model_dir(model_dir)
    record = None
    validation_path = cache_dir_for(model_dir) / VALIDATION_FILE
    if validation_path.is_file():
        record = json.loads(validation_path.read_text())
    elif backend == "auto":
        record = validate_export(model_dir, log=log)
    if backend == "auto" and record is not None and not record.get("accepted"):
        log(f"int8 ONNX loses {record['macro_f1_drop']:.3f} macro-F1 (limit {MAX_MACRO_F1_DROP}); using torch")
        return LineClassifier.from_pretrained(model_dir, device="cpu", batch_size=batch_size, num_threads=num_threads)
    return OnnxLineClassifier.from_pretrained(model_dir, batch_size=batch_size, num_threads=num_threads, log=log)
