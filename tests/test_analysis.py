"""Posting analysis on predictions made by a stand-in scorer, so each rule is tested exactly."""
import pytest

from classifier.analysis import (effective_roles, interpret, title_role,
                                 verdict_from_mix)
from classifier.labels import LABEL_NAMES
from classifier.model import Prediction
from classifier.segment import segment


def pred(label: str, confidence: float = 0.95) -> Prediction:
    rest = (1 - confidence) / 4
    return Prediction(label, confidence, {l: confidence if l == label else rest for l in LABEL_NAMES})


def posting(labels: list[str], title=None, confidence=0.95):
    text = "Responsibilities\n" + "\n".join(f"- duty number {i}" for i in range(len(labels)))
    lines = segment(text)
    preds = [pred("other", 1.0)] + [pred(l, confidence) for l in labels]
    return interpret(lines, preds, title=title)


def test_focused_pm():
    result = posting(["PM"] * 8 + ["other"] * 5 + ["PMM"])
    assert result.verdict == "focused-PM" and result.mixed_roles == [] and result.split == []
    assert result.role_mix["PM"] > 0.85
    assert result.evidence["PM"] and result.evidence["PM"][0]["text"].startswith("duty number")


def test_focused_pmm_and_marketing_ops():
    assert posting(["PMM"] * 6 + ["shared"] * 2).verdict == "focused-PMM"
    assert posting(["marketing-ops"] * 7 + ["other"] * 3).verdict == "focused-marketing-ops"


def test_mixed_names_the_roles_and_suggests_a_split():
    result = posting(["PM"] * 6 + ["PMM"] * 5 + ["marketing-ops"] * 5 + ["shared"] * 2, title="Product Manager")
    assert result.verdict == "mixed"
    assert result.mixed_roles == ["PM", "PMM", "marketing-ops"]
    assert result.role_load > 2.5
    assert [p["role"] for p in result.split] == ["PM", "PMM", "marketing-ops"]
    assert result.split[0]["text"].startswith("# Product Manager")
    assert len(result.split[0]["shared_lines"]) == 2 and result.split[2]["shared_lines"] == []
    assert "also asks for" in result.title_check["message"]
    assert "Mixed: PM + PMM + marketing-ops" in result.headline


def test_one_stray_line_does_not_make_a_posting_mixed():
    assert posting(["PM"] * 9 + ["PMM"]).verdict == "focused-PM"


def test_all_boilerplate_posting_has_not_enough_signal():
    result = posting(["other"] * 15)
    assert result.verdict == "not-enough-signal"
    assert result.role_load == 0.0 and result.split == []
    assert all(v == 0 for v in result.role_mix.values())


def test_empty_posting():
    result = interpret([], [], title="Product Manager")
    assert result.verdict == "not-enough-signal" and result.lines == []


def test_role_load_grows_with_roles():
    assert effective_roles({"PM": 1.0, "PMM": 0.0, "marketing-ops": 0.0}) == 1.0
    assert effective_roles({"PM": 0.5, "PMM": 0.5, "marketing-ops": 0.0}) == 2.0
    assert effective_roles({"PM": 1 / 3, "PMM": 1 / 3, "marketing-ops": 1 / 3}) == pytest.approx(3.0)


@pytest.mark.parametrize("title, role", [
    ("Senior Product Manager", "PM"), ("Product Marketing Manager", "PMM"), ("Head of Product", "PM"),
    ("Marketing Operations Manager", "marketing-ops"), ("Demand Generation Lead", "marketing-ops"),
    ("Software Engineer", None), (None, None)])
def test_title_role(title, role):
    assert title_role(title) == role


def test_title_check_flags_a_pm_title_over_pmm_lines():
    result = posting(["PMM"] * 8 + ["PM"], title="Product Manager")
    assert result.verdict == "focused-PMM"
    assert result.title_check["consistent"] is False
    assert result.title_check["title_role"] == "PM" and result.title_check["dominant_role"] == "PMM"
    assert "Titled as product management" in result.title_check["message"]


def test_title_check_agrees():
    result = posting(["PM"] * 8, title="Senior Product Manager")
    assert result.title_check["consistent"] is True


def test_low_confidence_lines_are_flagged():
    result = posting(["PM"] * 5, confidence=0.4)
    assert all(l.low_confidence for l in result.lines if l.kind != "header")
    assert not any(l.low_confidence for l in result.lines if l.kind == "header")


def test_verdict_rules_from_masses():
    assert verdict_from_mix({"PM": 1.0, "PMM": 0.5, "marketing-ops": 0.0, "shared": 3.0})[0] == "not-enough-signal"
    assert verdict_from_mix({"PM": 6.0, "PMM": 4.5, "marketing-ops": 0.0, "shared": 0})[0] == "mixed"
    assert verdict_from_mix({"PM": 6.0, "PMM": 1.0, "marketing-ops": 0.0, "shared": 0})[0] == "focused-PM"
