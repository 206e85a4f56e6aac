import re

import pytest
from hypothesis import given, settings, strategies as st

from classifier.segment import normalize_text, segment, split_sentences


def texts(lines):
    return [l.text for l in lines]


def test_sample_posting_structure(sample_jd):
    lines = segment(sample_jd)
    headers = [l.text for l in lines if l.kind == "header"]
    assert headers == ["Senior Product Manager", "About us", "What you'll do:", "Requirements"]
    bullets = [l for l in lines if l.kind == "bullet"]
    assert [b.section for b in bullets] == ["What you'll do"] * 3 + ["Requirements"] * 2
    assert bullets[0].text == "Own the product roadmap and prioritise the backlog with engineering."
    assert [l.index for l in lines] == list(range(len(lines)))


@pytest.mark.parametrize("marker", ["•", "-", "*", "–", "—", "1.", "2)", "a)", "b.", "(c)", "▪", "◦", "➤", "✔", "🚀"])
def test_every_bullet_kind(marker):
    lines = segment(f"Responsibilities\n{marker} Own the roadmap\n{marker} Run sprint planning\n")
    assert [l.kind for l in lines] == ["header", "bullet", "bullet"]
    assert texts(lines)[1:] == ["Own the roadmap", "Run sprint planning"]
    assert lines[1].marker == marker


def test_wrapped_bullet_lines_are_joined():
    text = ("Requirements:\n- Own the product roadmap and work with engineering and design to ship\n"
            "  features that customers love every quarter\n- Write PRDs\n")
    lines = segment(text)
    assert texts(lines)[1] == ("Own the product roadmap and work with engineering and design to ship "
                               "features that customers love every quarter")
    assert texts(lines)[2] == "Write PRDs"


def test_hard_wrapped_paragraph_is_joined_then_split_into_sentences():
    text = ("The role\n\nYou will own the roadmap for our payments platform and work closely with\n"
            "engineering to ship. You will also write the launch messaging and train the sales\n"
            "team on it. Finally you will run our HubSpot campaigns and report on the pipeline\n"
            "every week.\n")
    lines = segment(text)
    assert [l.kind for l in lines] == ["header", "sentence", "sentence", "sentence"]
    assert texts(lines)[1] == ("You will own the roadmap for our payments platform and work closely with "
                               "engineering to ship.")
    assert texts(lines)[3].endswith("report on the pipeline every week.")


def test_unbulleted_short_duty_lines_stay_apart():
    lines = segment("Own the roadmap\nWrite PRDs\nTalk to customers\n")
    assert texts(lines) == ["Own the roadmap", "Write PRDs", "Talk to customers"]


@pytest.mark.parametrize("header", [
    "Responsibilities", "What you'll do:", "Requirements", "QUALIFICATIONS", "ABOUT THE ROLE",
    "Nice to have", "## Benefits", "**What we offer**", "Who you are:", "Key Responsibilities",
])
def test_section_headers(header):
    lines = segment(f"{header}\n- Own the roadmap\n")
    assert lines[0].kind == "header"
    assert lines[1].section == re.sub(r"[#*:]", "", header).strip()


def test_sentences_abbreviations_and_decimals():
    text = "Use tools e.g. Jira and Amplitude. Grow revenue by 2.5x in the U.S. market. Then launch."
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Use tools e.g. Jira and Amplitude.", "Grow revenue by 2.5x in the U.S. market.", "Then launch."]


def test_noise_nbsp_crlf_blank_lines():
    text = "\r\n\r\n\r\nWhat you'll do:\r\n\r\n\r\n•\u00a0Own\u00a0the roadmap\r\n\u200b\r\n   \r\n•\tWrite PRDs\r\n"
    lines = segment(text)
    assert texts(lines) == ["What you'll do:", "Own the roadmap", "Write PRDs"]
    assert all("\r" not in l.text for l in lines)


def test_lone_bullet_symbol_from_pdf_text_joins_next_line():
    lines = segment("Duties\n•\nOwn the roadmap\n•\nWrite PRDs\n")
    assert [(l.kind, l.text) for l in lines[1:]] == [("bullet", "Own the roadmap"), ("bullet", "Write PRDs")]


def test_markdown_links_emphasis_and_front_matter():
    text = "---\ntitle: PM\n---\n# Product Manager\n\n- Own the **roadmap** with [engineering](https://x.y/z)\n\n---\n\nThanks.\n"
    lines = segment(text, "markdown")
    assert texts(lines) == ["Product Manager", "Own the roadmap with engineering", "Thanks."]


def test_empty_and_whitespace_inputs():
    assert segment("") == []
    assert segment(" \n\t\r\n\u00a0 ") == []


def test_offsets_point_into_normalised_source(sample_jd):
    source = normalize_text(sample_jd)
    for line in segment(sample_jd, "text"):
        assert source[line.start:line.end] == line.text


_alphabet = st.characters(blacklist_categories=("Cs",), max_codepoint=0x1FAFF)
_line = st.text(alphabet=_alphabet, max_size=80)
_marker = st.sampled_from(["", "- ", "* ", "• ", "1. ", "a) ", "# ", "🚀 ", "   "])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_marker, _line), max_size=25))
def test_segmentation_never_crashes_and_never_loses_text(parts):
    text = "\n".join(m + l for m, l in parts)
    lines = segment(text, "text")
    expected = re.sub(r"\s+", "", normalize_text(text))
    kept = re.sub(r"\s+", "", "".join(l.marker + l.text for l in lines))
    assert kept == expected


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_segmentation_of_any_text_never_crashes(text):
    for fmt in ("text", "markdown", "auto"):
        for line in segment(text, fmt):
            assert line.text.strip()
            assert line.kind in ("header", "bullet", "sentence")
