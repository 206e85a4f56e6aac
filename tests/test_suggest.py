"""``jdroles suggest``: reading pools, uncertainty ranking, near-duplicate skipping, the CLI."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from classifier.cli import main
from classifier.errors import InputError
from classifier.model import LineClassifier
from tests.tiny_model import make_tiny_model
from training.suggest import (JaccardFilter, SuggestConfig, normalise, read_pool, select_diverse, suggest,
                              uncertainty, unlabelled)

POOL = ["own the roadmap", "launch messaging", "hubspot campaigns", "benefits and salary", "research customers",
        "write prds", "we are hiring", "own the roadmap and write prds", "launch the messaging and campaigns",
        "customers and research", "the salary", "hubspot"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return LineClassifier.from_pretrained(make_tiny_model(tmp_path_factory.mktemp("tiny")), device="cpu")


def test_uncertainty_scores_rank_the_least_sure_first():
    probs = np.array([[0.96, 0.01, 0.01, 0.01, 0.01], [0.4, 0.38, 0.1, 0.1, 0.02], [0.2] * 5])
    for strategy in ("margin", "entropy", "least-confidence"):
        scores = uncertainty(probs, strategy)
        assert list(np.argsort(-scores)) == [2, 1, 0], strategy
        assert np.all((scores >= 0) & (scores <= 1 + 1e-9))
    assert uncertainty(probs, "margin")[1] == pytest.approx(1 - 0.02)
    with pytest.raises(InputError, match="expected one of margin, entropy, least-confidence"):
        uncertainty(probs, "random")


def test_suggest_on_a_tiny_model_follows_uncertainty_order(tiny):
    items = [{"text": t} for t in POOL]
    expected = uncertainty(tiny.predict_proba(items), "margin")
    rows = suggest(items, tiny, SuggestConfig(n=5, diversity="exact"))
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["text"] for r in rows] == [POOL[i] for i in np.argsort(-expected, kind="stable")[:5]]
    scores = [r["uncertainty"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(r["label"] == "" and r["model_label"] in tiny.labels for r in rows)


def test_near_duplicates_are_skipped(tiny):
    items = [{"text": t} for t in ["own the roadmap", "Own the roadmap!", "the roadmap own", "hubspot campaigns"]]
    rows = suggest(items, tiny, SuggestConfig(n=4))
    assert len(rows) == 2
    assert sum(normalise(r["text"]).split().count("roadmap") for r in rows) == 1
    rows = suggest(items, tiny, SuggestConfig(n=4, diversity="embedding"))
    assert len(rows) == 2  # identical words: identical embeddings, cosine 1
    assert len(suggest(items, tiny, SuggestConfig(n=4, diversity="exact"))) == 3  # only "Own the roadmap!" goes


def test_select_diverse_greedy_keeps_the_most_uncertain_of_each_group():
    texts = ["own the product roadmap", "manage hubspot", "own the product roadmap today", "write prds"]
    picked, skipped = select_diverse([0, 2, 1, 3], 3, texts, JaccardFilter(texts, 0.75))
    assert picked == [0, 1, 3] and skipped == 1
    picked, _ = select_diverse([0, 1, 2, 3], 4, texts, None, ["a", "a", "b", "a"], max_per_posting=1)
    assert picked == [0, 2]


def test_read_pool_formats(tmp_path):
    (tmp_path / "p.txt").write_text("own the roadmap\n\n  launch messaging  \n")
    assert [r["text"] for r in read_pool(tmp_path / "p.txt")] == ["own the roadmap", "launch messaging"]
    (tmp_path / "p.jsonl").write_text(json.dumps({"text": "a", "section": "Duties", "posting_id": 7}) + "\n")
    assert read_pool(tmp_path / "p.jsonl") == [{"text": "a", "section": "Duties", "posting_id": "7", "label": None}]
    (tmp_path / "p.csv").write_text("text,section,label\nown it,,PM\nwrite prds,Duties,\n")
    assert [r["text"] for r in unlabelled(read_pool(tmp_path / "p.csv"))] == ["write prds"]
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"text": ["x", None, "y"]}), tmp_path / "p.parquet")
    assert [r["text"] for r in read_pool(tmp_path / "p.parquet")] == ["x", "y"]
    (tmp_path / "jd.md").write_text("# Product Manager\n\n## What you'll do\n- Own the roadmap.\n- Write PRDs.\n")
    rows = read_pool(tmp_path / "jd.md")
    assert [r["text"] for r in rows] == ["Own the roadmap.", "Write PRDs."]
    assert rows[0]["section"] == "What you'll do" and rows[0]["posting_id"] == "jd"


def test_read_pool_errors_say_what_was_expected(tmp_path):
    (tmp_path / "p.csv").write_text("line,label\nx,PM\n")
    with pytest.raises(InputError, match=r"no 'text' column; found line, label"):
        read_pool(tmp_path / "p.csv")
    (tmp_path / "p.jsonl").write_text('{"text": "ok"}\n{oops\n')
    with pytest.raises(InputError, match=r"p.jsonl:2: not valid JSON"):
        read_pool(tmp_path / "p.jsonl")
    (tmp_path / "p.xlsx").write_bytes(b"x")
    with pytest.raises(InputError, match=r"expected a .txt file .* found .xlsx"):
        read_pool(tmp_path / "p.xlsx")
    with pytest.raises(InputError, match="no such file"):
        read_pool(tmp_path / "missing.txt")


def test_cli_writes_a_file_to_label(tmp_path):
    model = make_tiny_model(tmp_path / "model")
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(POOL) + "\nown the roadmap\n")
    done = tmp_path / "done.jsonl"
    done.write_text(json.dumps({"text": "we are hiring", "label": "other"}) + "\n")
    out = tmp_path / "next.csv"
    argv = ["suggest", "--pool", str(pool), "--n", "4", "--out", str(out), "--model", str(model), "--device", "cpu",
            "--exclude", str(done)]
    assert main(argv) == 0
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert list(rows[0]) == ["rank", "text", "section", "model_label", "model_confidence", "runner_up",
                             "uncertainty", "label"]
    assert all(r["label"] == "" for r in rows) and "we are hiring" not in {r["text"] for r in rows}
    assert main(argv) == 2  # never overwrites a file someone may be labelling
    assert main(["suggest", "--pool", str(pool), "--n", "0", "--out", str(tmp_path / "other.csv")]) == 2


def test_cli_error_on_existing_output(tmp_path, capsys):
    out = tmp_path / "next.csv"
    out.write_text("text,label\n")
    pool = tmp_path / "pool.txt"
    pool.write_text("own the roadmap\n")
    assert main(["suggest", "--pool", str(pool), "--out", str(out)]) == 2
    assert "exists; it may hold labels someone typed in" in capsys.readouterr().err
