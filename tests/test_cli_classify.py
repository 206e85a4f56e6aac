"""jdroles classify / analyze on a tiny local model: formats, --lines, JSONL input, errors."""
import csv
import io
import json

import pytest

from classifier.cli import main
from classifier.labels import LABEL_NAMES

from tiny_model import make_tiny_model


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return str(make_tiny_model(tmp_path_factory.mktemp("tiny-cli")))


@pytest.fixture
def jd(tmp_path, sample_jd):
    path = tmp_path / "jd.txt"
    path.write_text(sample_jd)
    return path


def test_classify_jsonl_keeps_order(tiny_dir, jd, capsys):
    assert main(["classify", str(jd), "--model", tiny_dir, "--format", "jsonl"]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [r["index"] for r in rows] == list(range(len(rows)))
    assert rows[0]["text"] == "Senior Product Manager"
    assert {"text", "label", "confidence", "scores"} <= set(rows[0]) and set(rows[0]["scores"]) == set(LABEL_NAMES)


def test_classify_csv(tiny_dir, jd, capsys):
    assert main(["classify", str(jd), "--model", tiny_dir, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[1]["text"] == "About us" and rows[1]["label"] in LABEL_NAMES
    assert float(rows[1]["confidence"]) == pytest.approx(float(rows[1][f"score_{rows[1]['label']}"]), abs=1e-4)


def test_classify_lines_plain_and_jsonl(tiny_dir, tmp_path, capsys):
    plain = tmp_path / "lines.txt"
    plain.write_text("What you'll do:\nOwn the roadmap\n\nWrite PRDs\n")
    assert main(["classify", str(plain), "--lines", "--model", tiny_dir, "--format", "jsonl"]) == 0
    assert [json.loads(l)["text"] for l in capsys.readouterr().out.splitlines()] == [
        "What you'll do:", "Own the roadmap", "Write PRDs"]
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"text": "Own the roadmap", "section": "Responsibilities"}) + "\n"
                     + json.dumps({"text": "Salary and benefits"}) + "\n")
    assert main(["classify", str(items), "--lines", "--model", tiny_dir, "--format", "jsonl"]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [r["section"] for r in rows] == ["Responsibilities", None]


def test_classify_bad_jsonl_and_bad_model(tiny_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{not json\n')
    assert main(["classify", str(bad), "--lines", "--model", tiny_dir]) == 2
    assert "bad.jsonl:2: not valid JSON" in capsys.readouterr().err
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "ok"}\n')
    assert main(["classify", str(good), "--lines", "--model", str(tmp_path / "no-model")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_analyze_json_and_markdown(tiny_dir, jd, capsys):
    assert main(["analyze", str(jd), "--model", tiny_dir, "--format", "json", "--title", "Product Manager"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] in ("focused-PM", "focused-PMM", "focused-marketing-ops", "mixed", "not-enough-signal")
    assert {"mixed_roles", "role_mix", "role_load", "lines", "evidence", "title_check", "split"} <= set(result)
    assert main(["analyze", str(jd), "--model", tiny_dir, "--format", "markdown"]) == 0
    assert "| # | label | confidence | line |" in capsys.readouterr().out
