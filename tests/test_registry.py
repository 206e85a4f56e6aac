"""The model registry: listing models with their metrics, switching the default atomically,
rolling back; all on tiny local models in a temporary models folder."""
import json
import os
import subprocess
import sys

import pytest

from classifier import model as model_module
from classifier import registry
from classifier.cli import main
from classifier.errors import InputError, ModelError
from classifier.model import DEFAULT_MODEL_NAME, default_model_path

from tiny_model import make_tiny_model


@pytest.fixture
def models(tmp_path, monkeypatch):
    root = tmp_path / "models"
    make_tiny_model(root / "a")
    make_tiny_model(root / "b")
    (root / "a" / "metrics.json").write_text(json.dumps({
        "info": {"created": "2026-11-30T10:00:00Z"},
        "results": {"team/held-out": {"model": {"macro_f1": 0.91}, "replaced": {"macro_f1": 0.5}},
                    "eval/real-lines": {"model": {"macro_f1": 0.66}}}}))
    monkeypatch.setattr(model_module, "MODELS_DIR", root)
    monkeypatch.delenv("JDROLES_MODEL", raising=False)
    return root


def test_list_models_with_metrics_size_and_default(models):
    (models / ".c.partial").mkdir()                 # a training run in progress: not a model
    (models / "notes").mkdir()                      # no config.json: not a model
    broken = models / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    entries = {e.name: e for e in registry.list_models()}
    assert sorted(entries) == ["a", "b", "broken"]
    assert entries["a"].macro_f1 == {"team/held-out": 0.91, "eval/real-lines": 0.66}
    assert entries["a"].created == "2026-11-30T10:00:00Z" and entries["b"].created  # b: from the weights' time
    assert entries["a"].size_bytes > 1000 and not entries["a"].problem
    assert "has no model.safetensors" in entries["broken"].problem
    assert not any(e.is_default for e in entries.values())  # the shipped model is the default, and absent here
    registry.use_model("b")
    assert [e.name for e in registry.list_models() if e.is_default] == ["b"]


def test_use_switches_the_default_and_keeps_the_previous(models):
    assert registry.use_model("a") == ("a", DEFAULT_MODEL_NAME)
    assert (models / "DEFAULT").read_text() == "a\n"
    assert (models / "DEFAULT.previous").read_text() == f"{DEFAULT_MODEL_NAME}\n"
    assert default_model_path() == models / "a"
    assert registry.use_model("b") == ("b", "a")
    assert default_model_path() == models / "b"
    assert registry.use_previous() == ("a", "b")          # roll back
    assert default_model_path() == models / "a"
    assert (models / "DEFAULT.previous").read_text() == "b\n"
    assert not [p.name for p in models.iterdir() if p.name.endswith(".tmp")]


def test_use_accepts_a_path_inside_the_models_folder(models):
    assert registry.use_model(str(models / "b"))[0] == "b"
    assert (models / "DEFAULT").read_text() == "b\n"


def test_use_refuses_a_broken_or_unknown_model_and_changes_nothing(models):
    registry.use_model("a")
    broken = models / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    (broken / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelError, match="holds only pickled weights"):
        registry.use_model("broken")
    with pytest.raises(InputError, match="no model 'nope' in .*; models there: a, b, broken"):
        registry.use_model("nope")
    assert (models / "DEFAULT").read_text() == "a\n"
    assert (models / "DEFAULT.previous").read_text() == f"{DEFAULT_MODEL_NAME}\n"


def test_a_failed_write_leaves_the_old_default(models, monkeypatch):
    registry.use_model("a")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        registry.use_model("b")
    assert (models / "DEFAULT").read_text() == "a\n"
    assert not [p.name for p in models.iterdir() if p.name.endswith(".tmp")]


def test_use_previous_without_history(models):
    with pytest.raises(InputError, match="no previous default recorded"):
        registry.use_previous()


def test_models_cli_use_list_and_rollback(models, capsys):
    assert main(["models", "use", "a"]) == 0
    assert "default model: a (was jd-roles-minilm" in capsys.readouterr().out
    assert main(["models", "use", "b"]) == 0
    assert main(["models", "use", "--previous"]) == 0
    assert (models / "DEFAULT").read_text() == "a\n"
    capsys.readouterr()
    assert main(["models", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(m["name"], m["default"]) for m in listed] == [("a", True), ("b", False)]
    assert listed[0]["macro_f1"]["team/held-out"] == 0.91
    assert main(["models"]) == 0
    assert main(["models", "use", "nope"]) == 2
    assert main(["models", "use"]) == 2


def test_the_default_loads_after_a_switch(models):
    from classifier import LineClassifier

    registry.use_model("b")
    assert LineClassifier.from_pretrained(device="cpu").name == "b"


def test_the_registry_does_not_import_training():
    code = ("import sys, classifier.registry, classifier.cli_models; "
            "sys.exit(any(m == 'training' or m.startswith('training.') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
