"""Cut a job description into the lines we classify.

A *line* is one bullet, one sentence of a paragraph, or one section header, with the
section header it sits under and where it came from in the (normalised) source text.

The segmenter works on text and Markdown; HTML, PDF and DOCX are turned into Markdown
first by :mod:`classifier.readers`. It keeps every non-whitespace character of plain-text
input: what is not in a line's ``text`` is in its ``marker`` (the bullet or ``#`` removed).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator

from .errors import InputError

KINDS = ("header", "bullet", "sentence")

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_EMOJI = (r"(?:[\u2190-\u21ff\u2300-\u23ff\u2460-\u24ff\u25a0-\u27bf\u2900-\u297f\u2b00-\u2bff"
          r"\U0001f000-\U0001faff][\ufe0f\u200d\U0001f3fb-\U0001f3ff]*)+")
_BULLET = re.compile(
    r"^(?P<indent>[ \t]*)(?P<marker>[-*+•●○◦▪▫■□‣⁃∙·–—>➢➤►▶✓✔→⇒]"
    r"|\(?\d{1,2}[.)]|\(?[a-zA-Z][.)]|" + _EMOJI + r")(?:[ \t]+|$)(?P<rest>.*)$")
_MD_HEADER = re.compile(r"^[ \t]{0,3}(?P<marker>#{1,6})[ \t]+(?P<rest>\S.*?)[ \t]*$")
_BOLD_LINE = re.compile(r"^[ \t]*(\*\*|__)(?P<rest>[^*_\n]{2,80}?)\1[ \t]*:?[ \t]*$")
_HR = re.compile(r"^[ \t]*([-*_=])([ \t]*\1){2,}[ \t]*$")
_KNOWN_HEADER = re.compile(
    r"^(?:(?:key |core |main |primary |your |the |minimum |basic |preferred |required |additional |desired |bonus )*"
    r"(?:responsibilities|requirements|qualifications|duties|skills|experience|benefits|perks|compensation|"
    r"overview|summary|job description|description|the role|role|the opportunity|opportunity|the team|"
    r"about (?:you|us|the [\w ]+|[\w .&'-]{1,40})|who you are|who we are|what you(?:'|’)?ll (?:do|bring|need)|"
    r"what you will (?:do|bring|need)|what we(?:'|’)?re looking for|what we are looking for|"
    r"what we offer|we offer|nice to haves?|bonus points|why join us|why (?:you should )?join [\w ]+|"
    r"how to apply|location|salary|in this role,? you will|you will|you have|you are|your impact|"
    r"skills and experience|education|pay|equal opportunity(?: employer)?|our values|culture))\s*[:.!]?$",
    re.I)
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "vs", "inc", "ltd", "co", "corp", "jr", "sr", "dr", "mr", "ms", "mrs", "st",
    "no", "approx", "incl", "u.s", "u.k", "a.m", "p.m", "dept", "est", "fig", "min", "max", "avg",
}


@dataclass(frozen=True)
class Line:
    """One unit to classify."""
    index: int            # position among the lines of this posting
    text: str             # the line, without its bullet or header marker
    kind: str             # "header", "bullet" or "sentence" (of a paragraph)
    section: str | None   # the header it sits under (None before the first header)
    line_no: int          # 1-based source line where it starts
    start: int            # character offsets in the normalised source text
    end: int
    marker: str = ""      # the bullet / header marker taken off the text

    def to_dict(self) -> dict:
        return asdict(self)


def normalize_text(text: str) -> str:
    """Unicode NFKC (non-breaking and odd spaces become spaces), one kind of line end,
    no zero-width or control characters, tabs as spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n").replace("\u0085", "\n")
    return _CONTROL.sub("", text).expandtabs(4)


def segment(text: str, fmt: str = "auto") -> list[Line]:
    """Split a job description into ordered lines.

    ``fmt`` is ``"text"`` (keep every character), ``"markdown"`` (also strip emphasis,
    links and rules) or ``"auto"`` (Markdown when the text uses Markdown syntax).
    Returns an empty list for empty or whitespace-only text.
    """
    if not isinstance(text, str):
        raise InputError(f"expected text, got {type(text).__name__}")
    if fmt == "auto":
        from .readers import looks_like_markdown
        fmt = "markdown" if looks_like_markdown(text) else "text"
    if fmt not in ("text", "markdown"):
        raise InputError(f"segment() takes text or markdown, not {fmt!r}; read other formats with classifier.readers")
    source = normalize_text(text)
    physical = list(_physical_lines(source))
    width = _wrap_width(physical)
    items = _items(physical, width, markdown=fmt == "markdown")
    return list(_lines(items, markdown=fmt == "markdown"))


def segment_document(doc) -> list[Line]:
    """Segment a :class:`classifier.readers.Document`."""
    return segment(doc.text, doc.format)


# --- physical lines -> items (headers, bullets, paragraphs) ------------------------------

@dataclass
class _Physical:
    no: int
    start: int
    text: str


@dataclass
class _Item:
    kind: str        # header | bullet | paragraph
    marker: str
    parts: list      # (start offset, text) pieces
    line_no: int
    indent: int = 0

    @property
    def start(self) -> int:
        return self.parts[0][0]

    @property
    def end(self) -> int:
        start, text = self.parts[-1]
        return start + len(text)


def _physical_lines(source: str) -> Iterator[_Physical]:
    offset = 0
    for no, raw in enumerate(source.split("\n"), start=1):
        yield _Physical(no, offset, raw)
        offset += len(raw) + 1


def _wrap_width(lines: list[_Physical]) -> int:
    """The width hard-wrapped text was wrapped at (0 when lines do not look wrapped)."""
    lengths = sorted(len(p.text.rstrip()) for p in lines if p.text.strip())
    if len(lengths) < 4:
        return 0
    width = lengths[int(0.9 * (len(lengths) - 1))]
    return width if 50 <= width <= 130 else 0


def _items(physical: list[_Physical], width: int, markdown: bool) -> list[_Item]:
    items: list[_Item] = []
    current: _Item | None = None
    pending_marker: str | None = None
    in_front_matter = markdown and bool(physical) and physical[0].text.strip() == "---"
    for i, p in enumerate(physical):
        stripped = p.text.strip()
        if in_front_matter:
            if i > 0 and stripped == "---":
                in_front_matter = False
            continue
        if not stripped or (markdown and _HR.match(p.text)):
            _flush_marker(items, pending_marker, physical[i - 1])
            current = pending_marker = None
            continue
        header = _header(p, physical, i)
        if header is not None:
            _flush_marker(items, pending_marker, physical[i - 1])
            pending_marker = None
            items.append(header)
            current = None
            continue
        bullet = _BULLET.match(p.text)
        if bullet and not bullet.group("rest").strip():
            _flush_marker(items, pending_marker, physical[i - 1])
            pending_marker = bullet.group("marker")  # a lone bullet symbol (PDF text): next line is its item
            continue
        if bullet and pending_marker is not None:
            _flush_marker(items, pending_marker, physical[i - 1])
            pending_marker = None
        if bullet or pending_marker is not None:
            marker = bullet.group("marker") if bullet else pending_marker
            rest = bullet.group("rest") if bullet else p.text.strip()
            start = p.start + (bullet.start("rest") if bullet else p.text.index(rest[:1]))
            indent = len(bullet.group("indent")) if bullet else 0
            current = _Item("bullet", marker, [(start, rest.rstrip())], p.no, indent)
            items.append(current)
            pending_marker = None
            continue
        if current is not None and _continues(current, physical[i - 1].text, p.text, width):
            current.parts.append((p.start + p.text.index(stripped[0]), stripped))
            continue
        current = _Item("paragraph", "", [(p.start + p.text.index(stripped[0]), stripped)], p.no)
        items.append(current)
    if physical:
        _flush_marker(items, pending_marker, physical[-1])
    return items


def _flush_marker(items: list[_Item], marker: str | None, p: _Physical) -> None:
    """A lone bullet symbol with nothing after it stays as a (noise) line of its own."""
    if marker is not None:
        items.append(_Item("paragraph", "", [(p.start + p.text.index(marker), marker)], p.no))


def _header(p: _Physical, physical: list[_Physical], i: int) -> _Item | None:
    text = p.text.strip()
    lead = p.start + p.text.index(text[0])
    md = _MD_HEADER.match(p.text)
    if md:
        rest = md.group("rest")
        return _Item("header", md.group("marker"), [(p.start + md.start("rest"), rest)], p.no)
    if _BULLET.match(p.text) and not _BOLD_LINE.match(p.text):
        return None
    words = text.split()
    if len(words) > 10 or len(text) > 90:
        return None
    if _BOLD_LINE.match(p.text) or (text.endswith(":") and len(words) <= 8):
        return _Item("header", "", [(lead, text)], p.no)
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 3 and all(c.isupper() for c in letters) and len(words) <= 8:
        return _Item("header", "", [(lead, text)], p.no)
    if _KNOWN_HEADER.match(text):
        return _Item("header", "", [(lead, text)], p.no)
    if _title_case_heading(text, physical, i):
        return _Item("header", "", [(lead, text)], p.no)
    return None


def _title_case_heading(text: str, physical: list[_Physical], i: int) -> bool:
    """A short Title Case line standing alone above a list or paragraph."""
    words = re.findall(r"[A-Za-z][\w'’-]*", text)
    if not 1 <= len(words) <= 6 or text[-1:] in ".,;!?" or len(words) != len(text.split()):
        return False
    small = {"a", "an", "and", "the", "of", "for", "to", "in", "on", "at", "with", "&", "our", "you"}
    if not all(w[0].isupper() or w.lower() in small for w in words):
        return False
    before_blank = i == 0 or not physical[i - 1].text.strip()
    after = physical[i + 1].text if i + 1 < len(physical) else ""
    return before_blank and (not after.strip() or bool(_BULLET.match(after)))


def _continues(item: _Item, previous: str, line: str, width: int) -> bool:
    """Does ``line`` continue the wrapped bullet or paragraph ``item``?"""
    if item.kind == "header":
        return False
    stripped = line.strip()
    prev = previous.rstrip()
    if stripped[0].islower() or stripped[0] in ",;)&":
        return True
    if item.kind == "bullet":
        indent = len(line) - len(line.lstrip())
        if indent > item.indent and indent >= 2:
            return True
    if prev.endswith(":"):
        return False
    return width > 0 and len(prev) >= 0.75 * width and not prev.endswith((".", "!", "?"))


# --- items -> lines -----------------------------------------------------------------------

_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>])")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,200}>")


def clean_markdown(text: str) -> str:
    """Plain words from one line of Markdown: links become their text, emphasis goes."""
    text = _MD_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = _MD_ESCAPE.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _item_text(item: _Item) -> str:
    return " ".join(t for _, t in item.parts)


def _section_name(text: str) -> str:
    return clean_markdown(re.sub(r"[ \t]+#+$", "", text)).strip(" :*_#").strip()


def _lines(items: Iterable[_Item], markdown: bool) -> Iterator[Line]:
    section: str | None = None
    index = 0
    for item in items:
        if item.kind == "header":
            text = _item_text(item)
            shown = clean_markdown(re.sub(r"[ \t]+#+$", "", text)) if markdown else text
            if not shown.strip():
                continue
            section = _section_name(text) or section
            yield Line(index, shown, "header", section, item.line_no, item.start, item.end, item.marker)
            index += 1
            continue
        text = _item_text(item)
        if item.kind == "bullet":
            shown = clean_markdown(text) if markdown else text
            if shown:
                yield Line(index, shown, "bullet", section, item.line_no, item.start, item.end, item.marker)
                index += 1
            continue
        for start, end in split_sentences(text):
            sentence = text[start:end]
            shown = clean_markdown(sentence) if markdown else sentence
            if not shown:
                continue
            offset = _source_offset(item, start)
            yield Line(index, shown, "sentence", section, item.line_no, offset, offset + end - start)
            index += 1


def _source_offset(item: _Item, position: int) -> int:
    """Map a position in the joined item text back to the source text."""
    consumed = 0
    for start, part in item.parts:
        if position <= consumed + len(part):
            return start + position - consumed
        consumed += len(part) + 1
    return item.end


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of a paragraph (abbreviations and decimals kept whole)."""
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in _SENTENCE_END.finditer(text):
        after = match.end()
        if after >= len(text):
            break
        nxt = text[after]
        if nxt.islower():
            continue
        word = text[:match.start() + 1].rsplit(None, 1)[-1].rstrip(".").lower()
        if text[match.start()] == "." and (word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", word)):
            continue
        spans.append((begin, match.end() - len(match.group()) + len(match.group().rstrip())))
        begin = after
    if begin < len(text):
        spans.append((begin, len(text.rstrip())))
    return [(s, e) for s, e in spans if text[s:e].strip()]
