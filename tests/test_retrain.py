"""Retraining on a team's lines: every validation problem, no overwrite, the split, the mix,
the label review, and (slow) ``jdroles train --data`` end to end on a tiny model."""
import csv
import json

import numpy as np
import pytest

from classifier.cli import main
from classifier.corrections import CorrectionStore
from classifier.errors import InputError
from classifier.labels import LABEL2ID
from training.retrain import (HELD_OUT, RetrainConfig, build_training_sets, check_new_folder, new_model_folder,
                              parse_mix, side_by_side_markdown, split_team)
from training.review import flag_label_issues, fold_ids, out_of_fold_probs
from training.teamdata import format_places, load_team_data, suggest_label

from tiny_model import make_tiny_model

PHRASES = {"PM": ["own the roadmap", "write prds"], "PMM": ["launch messaging"], "marketing-ops": ["hubspot campaigns"],
           "shared": ["research customers"], "other": ["salary and benefits", "we are hiring"]}
FIELDS = ["text", "label", "section", "posting_id"]


def good_rows(postings: int = 12) -> list[dict]:
    """7 lines in each of ``postings`` postings, every label at least ``postings`` times, all distinct."""
    return [{"text": f"{phrase} {p}", "label": label, "section": "", "posting_id": f"p{p}"}
            for p in range(postings) for label, phrases in PHRASES.items() for phrase in phrases]


def write_csv(path, rows, fields=FIELDS):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def problems_of(team, kind):
    return [p for p in team.problems if p.kind == kind]


# --- validation: one test per problem, asserting the message --------------------------------

def test_clean_file_is_ok(tmp_path):
    team = load_team_data([write_csv(tmp_path / "team.csv", good_rows())])
    assert team.ok and not team.warnings
    assert len(team.records) == 84 and team.label_counts()["PM"] == 24
    assert team.has_postings()


def test_missing_columns_are_named_with_a_suggestion(tmp_path):
    rows = [{"line": r["text"], "category": r["label"]} for r in good_rows()]
    team = load_team_data([write_csv(tmp_path / "team.csv", rows, ["line", "category"])])
    messages = [p.message for p in problems_of(team, "missing-column")]
    assert messages == [
        "team.csv: missing column 'text'; expected columns text and label (optional section, posting_id), "
        "found 'line', 'category'; did you mean 'line'?",
        "team.csv: missing column 'label'; expected columns text and label (optional section, posting_id), "
        "found 'line', 'category'; did you mean 'category'?"]
    assert not team.ok and not problems_of(team, "too-few-lines")  # nothing read: no follow-on noise


def test_unknown_label_with_close_match_and_line_numbers(tmp_path):
    rows = good_rows()
    rows[3]["label"] = "mops"   # file line 5 (the header is line 1)
    rows[10]["label"] = "mops"  # file line 12
    team = load_team_data([write_csv(tmp_path / "team.csv", rows)])
    (problem,) = problems_of(team, "unknown-label")
    assert problem.render() == ("error: column 'label' has 'mops' on 2 row(s); expected one of PM, PMM, shared, "
                                "marketing-ops, other; did you mean marketing-ops? [team.csv lines 5, 12]")
    assert len(team.records) == 82


@pytest.mark.parametrize("value, meant", [("mops", "marketing-ops"), ("ops", "marketing-ops"), ("pm", "PM"),
                                          ("pmm", "PMM"), ("Marketing Ops", "marketing-ops"), ("Other", "other"),
                                          ("product marketing", "PMM"), ("sharde", "shared"), ("xyz", None)])
def test_label_suggestions(value, meant):
    assert suggest_label(value) == meant


def test_unknown_label_without_suggestion(tmp_path):
    rows = good_rows()
    rows[0]["label"] = "xyz"
    (problem,) = problems_of(load_team_data([write_csv(tmp_path / "t.csv", rows)]), "unknown-label")
    assert problem.message.endswith("expected one of PM, PMM, shared, marketing-ops, other")


def test_empty_text_and_missing_label(tmp_path):
    rows = good_rows()
    rows[0]["text"] = "   "
    rows[1]["label"] = ""
    team = load_team_data([write_csv(tmp_path / "t.csv", rows)])
    assert problems_of(team, "empty-text")[0].render() == (
        "error: 1 row(s) have an empty line text; fill the line in or remove the row [t.csv line 2]")
    assert problems_of(team, "missing-label")[0].render() == (
        "error: 1 row(s) have no label; every line needs one of PM, PMM, shared, marketing-ops, other [t.csv line 3]")


def test_duplicates_are_kept_once_with_a_warning(tmp_path):
    rows = good_rows()
    rows.append({**rows[0], "text": "  OWN the   roadmap 0 "})  # same line, other case and spacing
    team = load_team_data([write_csv(tmp_path / "t.csv", rows)])
    (problem,) = problems_of(team, "duplicate")
    assert problem.severity == "warning" and team.ok
    assert problem.render() == ("warning: duplicate line 'own the roadmap 0' (2 times, label PM); kept once "
                                "[t.csv lines 2, 86]")
    assert len(team.records) == 84


def test_conflicting_labels_are_an_error_and_every_copy_is_left_out(tmp_path):
    rows = good_rows()
    rows.append({**rows[0], "label": "PMM"})
    team = load_team_data([write_csv(tmp_path / "t.csv", rows)])
    (problem,) = problems_of(team, "conflict")
    assert problem.message == ("conflicting labels for the same line 'own the roadmap 0': PM (t.csv line 2), "
                               "PMM (t.csv line 86); keep one label per line")
    assert not team.ok and len(team.records) == 83


def test_conflicts_across_files(tmp_path):
    a = write_csv(tmp_path / "a.csv", good_rows())
    b = tmp_path / "b.jsonl"
    b.write_text(json.dumps({"text": "own the roadmap 0", "label": "shared"}) + "\n")
    team = load_team_data([a, b])
    (problem,) = problems_of(team, "conflict")
    assert "PM (a.csv line 2), shared (b.jsonl line 1)" in problem.message


def test_too_few_examples_of_a_label(tmp_path):
    rows = [r for r in good_rows() if r["label"] != "shared"] + good_rows(3)[4:5]  # 1 shared line
    assert rows[-1]["label"] == "shared"
    team = load_team_data([write_csv(tmp_path / "t.csv", rows)])
    assert [p.message for p in problems_of(team, "too-few")] == [
        "label 'shared' has 1 line(s); at least 5 are needed to learn it and hold some out for evaluation: "
        "add lines, or pass --force"]


def test_no_lines_of_a_label_is_a_warning_and_too_few_lines_an_error(tmp_path):
    rows = [r for r in good_rows(2) if r["label"] != "shared"]
    team = load_team_data([write_csv(tmp_path / "t.csv", rows)], min_per_label=1)
    assert problems_of(team, "no-lines")[0].severity == "warning"
    assert problems_of(team, "too-few-lines")[0].message == ("12 usable line(s); at least 20 are needed to train "
                                                             "and hold some out")


def test_unreadable_inputs(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "own the roadmap", "label": "PM"}\n{"text": oops}\n[1, 2]\n')
    team = load_team_data([tmp_path / "notes.txt", tmp_path / "absent.csv", bad])
    rendered = [p.render() for p in team.errors]
    assert "error: notes.txt: expected a .csv, .jsonl, .json or .parquet file, found '.txt'" in rendered
    assert "error: absent.csv: no such file" in rendered
    assert "error: not valid JSON (Expecting value) [bad.jsonl line 2]" in rendered
    assert "error: expected a JSON object, found list [bad.jsonl line 3]" in rendered


def test_parquet_rows_are_numbered_from_one(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = good_rows()
    rows[2]["label"] = "pmm"
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    (problem,) = problems_of(load_team_data([tmp_path / "t.parquet"]), "unknown-label")
    assert problem.render().endswith("did you mean PMM? [t.parquet row 3]")


def test_missing_posting_ids_and_long_lines_are_warnings(tmp_path):
    rows = good_rows()
    rows[0]["posting_id"] = ""
    rows[1]["text"] = "write prds " * 80
    team = load_team_data([write_csv(tmp_path / "t.csv", rows)])
    assert team.ok
    assert problems_of(team, "posting-id")[0].places[0].number == 2
    assert problems_of(team, "long-line")[0].places[0].number == 3


def test_format_places_caps_the_list():
    from training.teamdata import Place

    places = [Place("t.csv", "line", n) for n in range(2, 14)]
    assert format_places(places) == "t.csv lines 2, 3, 4, 5, 6, 7, 8, 9 and 4 more"


def test_corrections_are_read_from_the_store(tmp_path):
    store = CorrectionStore(tmp_path / "corrections.sqlite")
    first = store.add("Plan launches", "PMM", predicted="PM")
    store.add("Plan launches", "PM", predicted="PMM")  # the latest correction of a line wins
    store.add("Manage HubSpot", "marketing-ops")
    team = load_team_data(["corrections"], min_per_label=1, min_lines=1, corrections_db=tmp_path / "corrections.sqlite")
    assert team.sources == ["corrections"]
    assert sorted((r.text, r.label) for r in team.records) == [("Manage HubSpot", "marketing-ops"),
                                                                ("Plan launches", "PM")]
    assert {r.place.unit for r in team.records} == {"correction"}
    assert first not in {r.place.number for r in team.records}


def test_missing_corrections_store_is_reported(tmp_path):
    team = load_team_data(["corrections"], corrections_db=tmp_path / "none.sqlite")
    assert team.errors[0].message.startswith(f"corrections: no corrections store at {tmp_path / 'none.sqlite'}")
    assert not (tmp_path / "none.sqlite").exists()


def test_validate_command_exit_status(tmp_path):
    good = write_csv(tmp_path / "good.csv", good_rows())
    rows = good_rows()
    rows[0]["label"] = "mops"
    bad = write_csv(tmp_path / "bad.csv", rows)
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(bad)]) == 1


def test_validate_json_report(tmp_path, capsys):
    rows = good_rows()
    rows[0]["label"] = "mops"
    main(["validate", str(write_csv(tmp_path / "bad.csv", rows)), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["usable"] == 83
    assert report["problems"][0]["kind"] == "unknown-label" and report["problems"][0]["places"] == ["bad.csv:2"]


# --- training refuses broken data and never overwrites ---------------------------------------

def test_train_refuses_broken_data_without_force(tmp_path, capsys):
    rows = good_rows()
    rows[0]["label"] = "mops"
    out = tmp_path / "models" / "team"
    assert main(["train", "--data", str(write_csv(tmp_path / "t.csv", rows)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "did you mean marketing-ops?" in err
    assert "1 problem(s) in the data (listed above); fix them, or pass --force" in err
    assert not out.exists()


def test_train_never_overwrites_a_model_folder(tmp_path, capsys):
    out = tmp_path / "models" / "team"
    out.mkdir(parents=True)
    (out / "config.json").write_text("{}")
    assert main(["train", "--data", str(write_csv(tmp_path / "t.csv", good_rows())), "--out", str(out)]) == 2
    assert "exists and is not empty; training never overwrites a model" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["config.json"]


def test_train_checks_base_and_mix_before_reading_the_data(tmp_path, capsys):
    data = str(tmp_path / "absent.csv")
    out = str(tmp_path / "models" / "team")
    assert main(["train", "--data", data, "--base", str(tmp_path / "nope"), "--out", out]) == 2
    assert f"model folder {tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    tiny = make_tiny_model(tmp_path / "tiny")
    assert main(["train", "--data", data, "--base", str(tiny), "--mix-corpus", "lots", "--out", out]) == 2
    assert "--mix-corpus 'lots'; expected a number of corpus lines per team line" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_new_model_folder_appears_only_on_success(tmp_path):
    out = tmp_path / "models" / "m"
    with pytest.raises(RuntimeError):
        with new_model_folder(out) as staging:
            (staging / "config.json").write_text("{}")
            raise RuntimeError("training failed")
    assert not out.exists() and list((tmp_path / "models").iterdir()) == []
    with new_model_folder(out) as staging:
        (staging / "config.json").write_text("{}")
    assert (out / "config.json").is_file() and [p.name for p in (tmp_path / "models").iterdir()] == ["m"]


def test_new_model_folder_refuses_a_folder_that_appears_meanwhile(tmp_path):
    out = tmp_path / "m"
    with pytest.raises(InputError, match="training never overwrites a model"):
        with new_model_folder(out) as staging:
            (staging / "config.json").write_text("new")
            out.mkdir()
            (out / "config.json").write_text("old")
    assert (out / "config.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_an_empty_existing_folder_is_allowed(tmp_path):
    (tmp_path / "m").mkdir()
    check_new_folder(tmp_path / "m")


# --- split, mix, review ---------------------------------------------------------------------

def test_held_out_split_keeps_postings_whole(tmp_path):
    team = load_team_data([write_csv(tmp_path / "t.csv", good_rows(20))])
    parts = split_team(team, RetrainConfig(), seed=0)
    postings = {name: {r.posting_id for r in part} for name, part in parts.items()}
    assert sum(len(p) for p in parts.values()) == 140
    assert not postings["train"] & postings["test"] and not postings["validation"] & postings["test"]
    assert not postings["train"] & postings["validation"]
    assert 3 <= len(postings["test"]) <= 5


def test_corpus_mix_leaves_out_the_team_lines_and_repeats_team_lines(tmp_path):
    import datasets

    def split(texts, label):
        return datasets.Dataset.from_list([{"text": t, "section": "", "label": label, "labels": LABEL2ID[label],
                                            "posting_id": "c", "kind": "sentence"} for t in texts])

    team = load_team_data([write_csv(tmp_path / "t.csv", good_rows(20))])
    parts = split_team(team, RetrainConfig(), seed=0)
    clash = parts["train"][0].text.upper()  # the same line, labelled otherwise in the corpus
    corpus = datasets.DatasetDict({"train": split([clash] + [f"corpus line {i}" for i in range(500)], "other"),
                                   "validation": split([f"corpus val {i}" for i in range(100)], "other"),
                                   "test": split(["x"], "other")})
    train, val, mix = build_training_sets(parts, corpus, RetrainConfig(mix_corpus=2.0), seed=0)
    n_train = len(parts["train"])
    assert mix["team_repeat"] == 1 and mix["corpus_train_lines"] == 2 * n_train
    assert mix["corpus_lines_left_out_as_team_lines"] == 1
    assert clash not in train["text"] and len(train) == 3 * n_train
    assert len(val) == 3 * len(parts["validation"])
    _, _, mix = build_training_sets(parts, corpus, RetrainConfig(mix_corpus=None), seed=0)
    assert mix["team_repeat"] == 4 and mix["corpus_train_lines"] == 500


def test_parse_mix():
    assert parse_mix("all") is None and parse_mix("0") == 0 and parse_mix("2.5") == 2.5
    with pytest.raises(InputError, match="expected a number of corpus lines per team line"):
        parse_mix("lots")
    with pytest.raises(InputError, match="expected a ratio of 0 or more"):
        parse_mix("-1")


def test_confident_disagreement_is_flagged_least_believed_first():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 12)
    features = np.eye(5)[labels] * 3 + rng.normal(scale=0.3, size=(60, 5))
    noisy = labels.copy()
    noisy[[3, 30]] = [1, 4]  # two label errors
    folds = fold_ids(noisy, [str(i) for i in range(60)], folds=5, seed=0)
    probs = out_of_fold_probs(features, noisy, folds)
    assert set(flag_label_issues(probs, noisy).tolist()) == {3, 30}
    # thresholds: 0.7 for label 0 (its one line), 0.37 for label 1 (mean of 0.8, 0.25, 0.05)
    probs = np.array([[0.7, 0.3, 0, 0, 0], [0.2, 0.8, 0, 0, 0], [0.75, 0.25, 0, 0, 0], [0.95, 0.05, 0, 0, 0],
                      [0.65, 0.35, 0, 0, 0]])
    assert flag_label_issues(probs, np.array([0, 1, 1, 1, 1])).tolist() == [3, 2]  # not 4: 0.65 < 0.7


def test_side_by_side_report_names_both_models():
    from training.evaluate import classification_metrics

    y = np.array([0, 1, 2, 3, 4])
    results = {HELD_OUT: {"model": classification_metrics(y, np.eye(5)[y]),
                          "replaced": classification_metrics(y, np.eye(5)[[0, 0, 2, 3, 4]])}}
    text = side_by_side_markdown(results, {"model_name": "team", "replaced_model": "jd-roles-minilm"})
    assert "| team/held-out | 5 | 1.000 | 0.733 | +26.7 pts | 1.000 | 0.800 |" in text
    assert "`team` beside the model it would replace, `jd-roles-minilm`" in text


# --- end to end through the CLI -------------------------------------------------------------

@pytest.mark.slow
def test_train_on_a_small_company_file_end_to_end(tmp_path, monkeypatch):
    tiny = make_tiny_model(tmp_path / "tiny")
    monkeypatch.setenv("JDROLES_MODEL", str(tiny))  # the model a new one would replace
    data = write_csv(tmp_path / "small.csv", good_rows() + [{"text": "build lists", "label": "mops"}])
    out = tmp_path / "models" / "team"
    status = main(["train", "--data", str(data), "--base", str(tiny), "--mix-corpus", "0", "--no-shared", "--force",
                   "--max-steps", "4", "--epochs", "1", "--out", str(out)])
    assert status == 0
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["results"]) == [HELD_OUT]
    assert set(metrics["results"][HELD_OUT]) == {"model", "replaced"}
    assert metrics["info"]["split"]["by"] == "posting" and metrics["info"]["model_name"] == "team"
    assert metrics["info"]["replaced_model"] == "tiny"
    assert metrics["info"]["team_data"]["usable"] == 84 and metrics["info"]["team_data"]["ok"] is False  # --force
    assert "| team/held-out |" in (out / "eval.md").read_text()
    with (out / "label-review.csv").open() as f:
        assert next(csv.reader(f))[:5] == ["place", "posting_id", "section", "text", "label"]
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["team"]  # no staging folder left
    from classifier import LineClassifier

    assert LineClassifier.from_pretrained(out, device="cpu").name == "team"
