"""The page's pure functions: formula-safe CSV, input checks, rendering of a result."""
import csv
import io

import pytest

from app import analysis_csv, check_text, highlighted, line_table, mix_chart, safe_cell, split_text, verdict_banner
from classifier.analysis import interpret
from classifier.errors import InputError
from classifier.labels import LABEL_NAMES
from classifier.model import Prediction
from classifier.segment import segment


def result_for(text: str, labels: list[str]) -> dict:
    lines = segment(text)
    preds = [Prediction(l, 0.9 if l != "PMM" else 0.55, {k: 0.9 if k == l else 0.025 for k in LABEL_NAMES}) for l in labels]
    return interpret(lines, preds, title="Product Manager").to_dict()


@pytest.fixture
def result():
    text = "Duties\n" + "\n".join(f"- duty {i}" for i in range(14)) + "\n- =HYPERLINK(\"http://x\")\n- @SUM(A1)\n"
    return result_for(text, ["other"] + ["PM"] * 6 + ["PMM"] * 8 + ["marketing-ops"] * 2)


@pytest.mark.parametrize("value, safe", [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"),
                                         ("\tx", "'\tx"), ("plain", "plain"), (None, "")])
def test_safe_cell(value, safe):
    assert safe_cell(value) == safe


def test_csv_export_neutralises_formulas(result):
    rows = list(csv.DictReader(io.StringIO(analysis_csv(result))))
    texts = [r["text"] for r in rows]
    assert "'=HYPERLINK(\"http://x\")" in texts and "'@SUM(A1)" in texts
    assert not any(t.startswith(("=", "+", "-", "@")) for t in texts)


def test_check_text():
    with pytest.raises(InputError, match="Paste a job description"):
        check_text("  \n ")
    with pytest.raises(InputError, match="at most"):
        check_text("x" * 200_001)
    assert check_text("Own the roadmap") == "Own the roadmap"


def test_rendering(result):
    assert 'data-verdict="mixed"' in verdict_banner(result) and "Mixed:" in verdict_banner(result)
    assert "role-mix-chart" in mix_chart(result)
    pairs = highlighted(result)
    assert ("duty 0", "PM") in pairs and any(t.endswith("(?)") and label == "PMM" for t, label in pairs)
    assert len(line_table(result)) == 16 and line_table(result)[6][3] == "⚠ low"
    assert split_text(result).count("# ") >= 2


def test_corrections_are_stored_and_exported_for_retraining(tmp_path):
    import json

    from classifier.corrections import CorrectionStore

    store = CorrectionStore(tmp_path / "c.sqlite")
    store.add("Own the launch plan", "PMM", predicted="PM", section="Duties", model="m1")
    store.add("Own the launch plan", "PM", predicted="PM", section="Duties", model="m1")  # the latest wins
    store.add("Run HubSpot sends", "marketing-ops", predicted="other", model="m1")
    with pytest.raises(InputError, match="expected one of"):
        store.add("x", "mops")
    rows = store.all()
    assert len(rows) == 3 and rows[0]["model"] == "m1" and rows[0]["created_at"].endswith("Z")
    assert store.export(tmp_path / "out.jsonl") == 2
    exported = [json.loads(l) for l in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert {(r["text"], r["label"]) for r in exported} == {("Own the launch plan", "PM"), ("Run HubSpot sends", "marketing-ops")}
