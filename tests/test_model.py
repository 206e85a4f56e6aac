import json
import shutil

import numpy as np
import pytest

from classifier import LineClassifier, ModelError
from classifier.labels import LABEL_NAMES
from classifier.model import check_model_dir, line_text_and_section

from tiny_model import make_tiny_model


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny"))


def test_predict_shapes_and_order(tiny_dir):
    clf = LineClassifier.from_pretrained(tiny_dir, device="cpu", batch_size=2)
    lines = ["own the roadmap", {"text": "launch messaging", "section": "What you'll do"}, "we are hiring and salary",
             "hubspot campaigns"]
    probs = clf.predict_proba(lines)
    assert probs.shape == (4, len(LABEL_NAMES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    one_by_one = np.concatenate([clf.predict_proba([l]) for l in lines])
    np.testing.assert_allclose(probs, one_by_one, atol=1e-5)  # batching and length-sorting keep order
    preds = clf.predict(lines)
    assert [p.label for p in preds] == [LABEL_NAMES[i] for i in probs.argmax(axis=1)]
    assert set(preds[0].scores) == set(LABEL_NAMES)
    assert clf.predict([]) == [] and clf.predict_proba([]).shape == (0, 5)


def test_single_string_is_refused(tiny_dir):
    clf = LineClassifier.from_pretrained(tiny_dir, device="cpu")
    with pytest.raises(TypeError, match="list of lines"):
        clf.predict("own the roadmap")


def test_line_forms():
    assert line_text_and_section("a") == ("a", None)
    assert line_text_and_section({"text": "a", "section": "S"}) == ("a", "S")
    with pytest.raises(TypeError):
        line_text_and_section(3)


def test_missing_and_bad_model_folders(tmp_path, tiny_dir):
    with pytest.raises(ModelError, match="does not exist"):
        LineClassifier.from_pretrained(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match="is a file"):
        LineClassifier.from_pretrained(tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        LineClassifier.from_pretrained(empty)


def test_pickle_only_folder_is_refused(tmp_path, tiny_dir):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_dir, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not loaded, never unpickled")
    with pytest.raises(ModelError, match="only pickled weights"):
        LineClassifier.from_pretrained(folder)


def test_wrong_labels_and_future_format_are_refused(tmp_path, tiny_dir):
    folder = tmp_path / "other-labels"
    shutil.copytree(tiny_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "POSITIVE", "1": "NEGATIVE"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="expected the five labels"):
        check_model_dir(folder)
    config["id2label"] = {str(i): l for i, l in enumerate(LABEL_NAMES)}
    config["jdroles_format_version"] = 99
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="upgrade jd-roles"):
        check_model_dir(folder)


def test_cuda_asked_for_without_gpu(tiny_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelError, match="no CUDA GPU"):
        LineClassifier.from_pretrained(tiny_dir, device="cuda")
