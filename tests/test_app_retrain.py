"""The Retrain tab's actions: validate, train with streamed progress, compare, switch models."""
import csv

import gradio as gr
import pytest

from app import App
from app_retrain import RetrainPanel
from classifier.corrections import CorrectionStore
from classifier.model import LineClassifier
from tiny_model import make_tiny_model

PHRASES = {"PM": ["own the roadmap", "write prds"], "PMM": ["launch messaging"], "marketing-ops": ["hubspot campaigns"],
           "shared": ["research customers"], "other": ["salary and benefits", "we are hiring"]}


def write_rows(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["text", "label", "section", "posting_id"])
        w.writeheader()
        w.writerows(rows)
    return str(path)


def good_rows(postings=12):
    return [{"text": f"{phrase} {p}", "label": label, "section": "", "posting_id": f"p{p}"}
            for p in range(postings) for label, phrases in PHRASES.items() for phrase in phrases]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    root = tmp_path / "models"
    tiny = make_tiny_model(root / "tiny")
    (root / "DEFAULT").write_text("tiny\n")
    monkeypatch.setenv("JDROLES_MODEL", str(tiny))  # the model a new one would replace
    app = App(LineClassifier.from_pretrained(tiny, device="cpu"), CorrectionStore(tmp_path / "c.sqlite"))
    return RetrainPanel(app, models_root=root), root, tiny


def test_validate_reports_problems_and_readiness(setup, tmp_path):
    panel, _, _ = setup
    bad = write_rows(tmp_path / "bad.csv", good_rows() + [{"text": "build lists", "label": "mops", "section": "",
                                                            "posting_id": "p1"}])
    report = panel.validate([bad], False)
    assert "1 problem(s)" in report and "marketing-ops" in report
    good = write_rows(tmp_path / "good.csv", good_rows())
    assert "Ready to train" in panel.validate([good], False)
    with pytest.raises(gr.Error, match="Upload"):
        panel.validate([], False)


def test_train_refuses_bad_names_broken_data_and_existing_folders(setup, tmp_path):
    panel, root, _ = setup
    good = write_rows(tmp_path / "good.csv", good_rows())
    with pytest.raises(gr.Error, match="Name the new model"):
        next(panel.train([good], False, "../evil", "default", "0", False))
    with pytest.raises(gr.Error, match="not empty|exists"):
        next(panel.train([good], False, "tiny", "default", "0", False))
    bad = write_rows(tmp_path / "bad.csv", good_rows() + [{"text": "x", "label": "nope", "section": "", "posting_id": "p1"}])
    with pytest.raises(gr.Error, match="train anyway"):
        next(panel.train([bad], False, "new", "default", "0", False))


@pytest.mark.slow
def test_train_compare_and_switch(setup, tmp_path):
    panel, root, tiny = setup
    good = write_rows(tmp_path / "good.csv", good_rows())
    updates = list(panel.train([good], False, "team", str(tiny), "0", False, max_steps=3, shared_eval=False))
    assert len(updates) > 2 and "team lines" in updates[0][0]
    log, comparison, table, _ = updates[-1]
    assert "saved" in log and "team/held-out" in comparison
    assert any(row[1] == "team" for row in table)
    assert (root / "team" / "model.safetensors").is_file()
    message, table = panel.use("team")
    assert "team" in message and (root / "DEFAULT").read_text().strip() == "team"
    assert panel.app.classifier.name == "team"
    message, _ = panel.switch_back()
    assert "tiny" in message and (root / "DEFAULT").read_text().strip() == "tiny"
    with pytest.raises(gr.Error):
        panel.use("missing")
