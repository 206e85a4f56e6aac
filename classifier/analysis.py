"""Posting analysis: from line scores to who the posting is really asking for.

``analyze_posting(text)`` segments a job description, scores every line with a
:class:`~classifier.model.LineClassifier`, and interprets the scores: the role mix, the role
load, the verdict (focused or a mixed "mystic PM"), the evidence lines, a title check and
a suggestion of how the role could be split into focused postings.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .labels import ROLE_LABELS
from .model import LineClassifier, Prediction
from .readers import Document, read_text
from .segment import Line, segment_document

ROLE_TITLES = {"PM": "Product Manager", "PMM": "Product Marketing Manager",
               "marketing-ops": "Marketing Operations Manager"}
ROLE_NAMES = {"PM": "product management", "PMM": "product marketing", "marketing-ops": "marketing operations"}


@dataclass(frozen=True)
class VerdictRules:
    """Every threshold of the verdict, in one place.

    Chosen on the corpus's validation postings (never on ../shared/eval) by
    ``training/verdict_tuning.py``, which reports the grid it searched:

    - ``min_role_mass``: a posting needs this much confidence-weighted role-line mass
      (about three confident PM / PMM / marketing-ops lines) before it gets a role verdict;
      below it the honest answer is ``not-enough-signal`` (neighbouring jobs, blurbs).
    - ``secondary_share`` and ``secondary_mass``: a second role is carried "in substance"
      when it has at least this share of the role mix *and* this much mass; one stray
      launch bullet in a PM posting does not make it mixed, three or four do.
    - ``low_confidence``: lines below it are flagged so nobody over-trusts them.
    """
    min_role_mass: float = 5.0
    secondary_share: float = 0.3
    secondary_mass: float = 4.0
    low_confidence: float = 0.6
    evidence_per_role: int = 5


DEFAULT_RULES = VerdictRules()


@dataclass
class LineResult:
    index: int
    text: str
    kind: str
    section: str | None
    label: str
    confidence: float
    scores: dict[str, float]
    low_confidence: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PostingAnalysis:
    verdict: str
    mixed_roles: list[str]
    headline: str
    role_mix: dict[str, float]
    shared_share: float
    role_load: float
    role_mass: float
    lines: list[LineResult]
    evidence: dict[str, list[dict]]
    title: str | None
    title_check: dict[str, Any]
    split: list[dict]
    model: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def verdict_from_mix(mass: dict[str, float], rules: VerdictRules = DEFAULT_RULES) -> tuple[str, list[str]]:
    """(verdict, mixed roles) from the confidence-weighted role-line mass of each role."""
    total = sum(mass[r] for r in ROLE_LABELS)
    if total < rules.min_role_mass:
        return "not-enough-signal", []
    carried = [r for r in ROLE_LABELS
               if mass[r] / total >= rules.secondary_share and mass[r] >= rules.secondary_mass]
    top = max(ROLE_LABELS, key=lambda r: mass[r])
    if len(carried) >= 2:
        return "mixed", sorted(carried, key=ROLE_LABELS.index)
    return f"focused-{top}", []


def role_mass(lines: list[LineResult]) -> dict[str, float]:
    mass = {label: 0.0 for label in (*ROLE_LABELS, "shared")}
    for line in lines:
        if line.kind != "header" and line.label in mass:
            mass[line.label] += line.confidence
    return mass


def effective_roles(shares: dict[str, float]) -> float:
    """The effective number of roles (inverse Simpson index): 1 for one role, 3 for an even three-way mix."""
    squares = sum(s * s for s in shares.values())
    return round(1.0 / squares, 3) if squares else 0.0


def headline(verdict: str, mixed_roles: list[str], role_load: float) -> str:
    if verdict == "mixed":
        return f"Mixed: {' + '.join(mixed_roles)} (role load {role_load:.1f})"
    if verdict == "not-enough-signal":
        return "Not enough signal: too few PM, PMM or marketing-ops lines to judge"
    role = verdict.removeprefix("focused-")
    return f"Focused: {role} ({ROLE_NAMES[role]}, role load {role_load:.1f})"


_TITLE_PATTERNS = (
    ("PMM", re.compile(r"product[\s-]+marketing|\bpmm\b|go[\s-]to[\s-]market|\bgtm\b|solutions? marketing|competitive intel", re.I)),
    ("marketing-ops", re.compile(r"marketing[\s-]+op|\bmops\b|demand[\s-]gen|growth market|marketing automation|lifecycle|"
                                 r"\bcrm\b|email market|campaign|digital market|performance market|\bseo\b|\bsem\b|paid (?:media|social|search)", re.I)),
    ("PM", re.compile(r"product[\s-]+(?:manager|owner|lead|director|management)|head of product|(?:vp|vice president|director|chief)[\s,]+(?:of\s+)?product\b|\bcpo\b|\bapm\b|\btpm\b", re.I)),
)


def title_role(title: str | None) -> str | None:
    if not title:
        return None
    for role, pattern in _TITLE_PATTERNS:
        if pattern.search(title):
            return role
    return None


def check_title(title: str | None, verdict: str, shares: dict[str, float], mixed_roles: list[str]) -> dict:
    expected = title_role(title)
    result = {"title": title, "title_role": expected, "dominant_role": None, "consistent": None, "message": ""}
    if verdict == "not-enough-signal":
        result["message"] = "Too few role lines to check the title against." if title else ""
        return result
    dominant = max(ROLE_LABELS, key=lambda r: shares[r])
    result["dominant_role"] = dominant
    if not title:
        return result
    if expected is None:
        result["message"] = f"The title names none of PM, PMM or marketing-ops; the lines are mostly {ROLE_NAMES[dominant]}."
        return result
    share = shares[expected]
    result["consistent"] = dominant == expected and verdict != "mixed"
    if dominant != expected:
        result["message"] = (f"Titled as {ROLE_NAMES[expected]}, but only {share:.0%} of the role lines are; "
                             f"{shares[dominant]:.0%} are {ROLE_NAMES[dominant]}.")
    elif verdict == "mixed":
        others = [r for r in mixed_roles if r != expected]
        result["message"] = (f"Titled as {ROLE_NAMES[expected]} ({share:.0%} of the role lines), but it also asks for "
                             + " and ".join(ROLE_NAMES[r] for r in others) + ".")
    else:
        result["message"] = f"The title matches the lines: {share:.0%} of the role lines are {ROLE_NAMES[expected]}."
    return result


def split_suggestion(lines: list[LineResult], verdict: str, mixed_roles: list[str]) -> list[dict]:
    """The focused postings a mixed role could become, each ready to copy."""
    if verdict != "mixed":
        return []
    shared = [l.text for l in lines if l.kind != "header" and l.label == "shared"]
    postings = []
    for role in mixed_roles:
        duties = [l.text for l in lines if l.kind != "header" and l.label == role]
        with_shared = shared if role in ("PM", "PMM") else []
        body = [f"# {ROLE_TITLES[role]}", "", "## What you'll do", *(f"- {d}" for d in duties)]
        if with_shared:
            body += ["", "## Shared with the " + ("product marketing" if role == "PM" else "product") + " team",
                     *(f"- {d}" for d in with_shared)]
        postings.append({"role": role, "title": ROLE_TITLES[role], "lines": duties, "shared_lines": with_shared,
                         "text": "\n".join(body) + "\n"})
    return postings


def evidence_of(lines: list[LineResult], rules: VerdictRules) -> dict[str, list[dict]]:
    out = {}
    for role in (*ROLE_LABELS, "shared"):
        ranked = sorted((l for l in lines if l.kind != "header" and l.label == role), key=lambda l: -l.confidence)
        out[role] = [{"index": l.index, "text": l.text, "confidence": round(l.confidence, 3)}
                     for l in ranked[:rules.evidence_per_role]]
    return out


def interpret(segments: list[Line], predictions: list[Prediction], title: str | None = None,
              rules: VerdictRules = DEFAULT_RULES, model_name: str = "") -> PostingAnalysis:
    """Turn segmented lines and their predictions into a :class:`PostingAnalysis`."""
    lines = [LineResult(s.index, s.text, s.kind, s.section, "other" if s.kind == "header" else p.label,
                        1.0 if s.kind == "header" else round(p.confidence, 4),
                        {k: round(v, 4) for k, v in p.scores.items()},
                        s.kind != "header" and p.confidence < rules.low_confidence)
             for s, p in zip(segments, predictions)]
    mass = role_mass(lines)
    total = sum(mass[r] for r in ROLE_LABELS)
    shares = {r: (mass[r] / total if total else 0.0) for r in ROLE_LABELS}
    body = [l for l in lines if l.kind != "header"]
    shared_share = mass["shared"] / (total + mass["shared"]) if total + mass["shared"] else 0.0
    verdict, mixed = verdict_from_mix(mass, rules)
    load = effective_roles(shares) if total else 0.0
    counts = {label: sum(1 for l in body if l.label == label) for label in (*ROLE_LABELS, "shared", "other")}
    return PostingAnalysis(
        verdict=verdict, mixed_roles=mixed, headline=headline(verdict, mixed, load),
        role_mix={r: round(v, 4) for r, v in shares.items()}, shared_share=round(shared_share, 4),
        role_load=load, role_mass=round(total, 3), lines=lines, evidence=evidence_of(lines, rules),
        title=title, title_check=check_title(title, verdict, shares, mixed),
        split=split_suggestion(lines, verdict, mixed), model=model_name, counts=counts)


def analyze_posting(text: str | Document, title: str | None = None, classifier: LineClassifier | None = None,
                    rules: VerdictRules = DEFAULT_RULES) -> PostingAnalysis:
    """Analyse one job description (a string, or a :class:`Document` read from a file).

    ``classifier`` defaults to the default model, loaded once and cached.
    """
    doc = text if isinstance(text, Document) else read_text(text)
    segments = segment_document(doc)
    classifier = classifier or default_classifier()
    predictions = classifier.predict(segments) if segments else []
    return interpret(segments, predictions, title=title, rules=rules, model_name=classifier.name)


_DEFAULT: dict[str, LineClassifier] = {}


def default_classifier() -> LineClassifier:
    from .model import default_model_path

    path = str(default_model_path())
    if path not in _DEFAULT:
        _DEFAULT.clear()
        _DEFAULT[path] = LineClassifier.from_pretrained(path)
    return _DEFAULT[path]
