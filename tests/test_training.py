"""The training pipeline end to end on a handful of lines (a few steps), then save and reload."""
import numpy as np
import pytest

from classifier import LineClassifier
from classifier.labels import LABEL2ID, LABEL_NAMES
from training.evaluate import classification_metrics, expected_calibration_error, fit_temperature
from training.train import TrainConfig, calibrate, class_weights, downsample_other, export, fine_tune

from tiny_model import make_tiny_model

LINES = [("own the roadmap", "PM"), ("write prds", "PM"), ("launch messaging", "PMM"),
         ("hubspot campaigns", "marketing-ops"), ("research customers", "shared"), ("salary and benefits", "other"),
         ("we are hiring", "other")]


def dataset(repeat: int):
    import datasets

    rows = [{"text": t, "section": "", "label": l, "labels": LABEL2ID[l]} for t, l in LINES] * repeat
    return datasets.Dataset.from_list(rows)


@pytest.mark.slow
def test_overfit_then_save_and_reload(tmp_path):
    base = make_tiny_model(tmp_path / "base")
    config = TrainConfig(epochs=150, learning_rate=1e-2, batch_size=7, patience=100, max_other_ratio=0, warmup_ratio=0.0)
    model, tokenizer, info = fine_tune(dataset(2), dataset(1), config, base=base, log=lambda m: None)
    info.update(calibrate(model, tokenizer, dataset(1), config.max_length))
    export(model, tokenizer, tmp_path / "model", info, dtype="float32")
    clf = LineClassifier.from_pretrained(tmp_path / "model", device="cpu")
    assert [p.label for p in clf.predict([t for t, _ in LINES])] == [l for _, l in LINES]
    again = LineClassifier.from_pretrained(tmp_path / "model", device="cpu")
    np.testing.assert_allclose(clf.predict_proba([t for t, _ in LINES]), again.predict_proba([t for t, _ in LINES]), atol=1e-6)
    assert (tmp_path / "model" / "model.safetensors").is_file() and not list((tmp_path / "model").glob("*.bin"))


def test_pipeline_loads_the_exported_folder(tmp_path):
    from transformers import pipeline

    base = make_tiny_model(tmp_path / "base")
    clf = LineClassifier.from_pretrained(base, device="cpu")
    export(clf.model, clf.tokenizer, tmp_path / "model", {"temperature": 1.0}, dtype="float16")
    pipe = pipeline("text-classification", model=str(tmp_path / "model"), device="cpu")
    assert pipe(["own the roadmap"])[0]["label"] in LABEL_NAMES


def test_metrics_and_calibration_helpers():
    y = np.array([0, 1, 2, 3, 4, 4])
    probs = np.eye(5)[y] * 0.9 + 0.02
    m = classification_metrics(y, probs)
    assert m["accuracy"] == 1.0 and m["macro_f1"] == 1.0
    assert m["confusion"][4][4] == 2 and m["per_label"]["other"]["support"] == 2
    assert expected_calibration_error(probs, y) == pytest.approx(0.08, abs=1e-6)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(400, 5)) * 4
    labels = logits.argmax(axis=1)
    flip = rng.random(400) < 0.3
    labels[flip] = rng.integers(0, 5, flip.sum())
    assert fit_temperature(logits, labels) > 1.0  # over-confident logits get softened


def test_class_weights_and_downsampling():
    w = class_weights([0, 0, 0, 1, 4, 4, 4, 4, 4, 4], power=0.5)
    assert w[1] > w[0] > w[4] and w[2] == 0.0
    ds = dataset(10)
    small = downsample_other(ds, 0.2, seed=1)
    labels = list(small["label"])
    assert labels.count("other") == 10  # 0.2 x 50 role lines
    assert downsample_other(ds, 0.5, seed=1)["label"] == ds["label"]  # fewer 'other' lines than allowed
    assert sum(1 for l in labels if l != "other") == 50
