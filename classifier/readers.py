"""Read what a recruiter pastes or uploads into text the segmenter understands.

Plain text and Markdown pass through (after decoding); HTML, PDF and DOCX are converted
to Markdown-like text (``# header``, ``- bullet``, blank lines between paragraphs) with
well-kept libraries (BeautifulSoup + markdownify, pypdf, python-docx).
"""
from __future__ import annotations

import codecs
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

MAX_INPUT_BYTES = 2_000_000  # a job description is a few KB; 2 MB leaves room for big PDFs
FORMATS = ("text", "markdown", "html", "pdf", "docx")
_SUFFIX_FORMATS = {
    ".txt": "text", ".text": "text", "": "text",
    ".md": "markdown", ".markdown": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".pdf": "pdf", ".docx": "docx",
}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_HTML_HINT = re.compile(r"<\s*(html|body|div|p|ul|ol|li|h[1-6]|br|span|table)\b", re.I)


@dataclass(frozen=True)
class Document:
    """Text ready for segmentation, with the format it was read as."""
    text: str
    format: str  # "text" or "markdown" after conversion
    name: str = "-"


def format_for(name: str) -> str:
    """The input format implied by a file name; unknown suffixes are read as text."""
    return _SUFFIX_FORMATS.get(Path(name).suffix.lower(), "text")


def decode_text(data: bytes, name: str = "input") -> str:
    """Decode bytes as text: BOMs first, then UTF-8, then the best charset guess.

    Raises InputError for data that is not text (NUL bytes or control characters).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as err:
                raise InputError(f"{name}: starts with a {encoding} byte-order mark but is not valid {encoding} ({err.reason})") from err
    if b"\x00" in data[:4096] or _control_ratio(data[:4096]) > 0.05:
        raise InputError(f"{name}: looks like a binary file, not text; give a .txt, .md, .html, .pdf or .docx job description")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _has_utf8_sequences(data):  # mostly UTF-8 with a few stray single-byte characters
        return data.decode("utf-8", errors="jdroles-cp1252")
    if len(data) >= 1000:  # long enough for a reliable guess
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is not None:
            return str(best)
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _has_utf8_sequences(data: bytes) -> bool:
    return _UTF8_MULTIBYTE.search(data) is not None


def _cp1252_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    bad = err.object[err.start:err.end]
    return bad.decode("cp1252", errors="replace"), err.end


codecs.register_error("jdroles-cp1252", _cp1252_fallback)


def _control_ratio(chunk: bytes) -> float:
    if not chunk:
        return 0.0
    controls = sum(1 for b in chunk if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(chunk)


def read_bytes(data: bytes, name: str = "input", fmt: str | None = None) -> Document:
    """Turn the bytes of an uploaded file into a Document; ``fmt`` overrides the suffix."""
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"{name}: {len(data) / 1e6:.1f} MB is too large for one job description (limit {MAX_INPUT_BYTES / 1e6:.0f} MB)")
    fmt = fmt or format_for(name)
    if fmt not in FORMATS:
        raise InputError(f"{name}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "pdf":
        return Document(pdf_to_text(data, name), "text", name)
    if fmt == "docx":
        return Document(docx_to_markdown(data, name), "markdown", name)
    text = decode_text(data, name)
    if fmt == "html" or (fmt == "text" and looks_like_html(text)):
        return Document(html_to_markdown(text), "markdown", name)
    if fmt == "text" and looks_like_markdown(text):
        fmt = "markdown"
    return Document(text, fmt, name)


def read_text(text: str, name: str = "pasted text") -> Document:
    """A pasted string: HTML is converted, Markdown recognised, anything else is text."""
    if len(text) > MAX_INPUT_BYTES:
        raise InputError(f"{name}: {len(text) / 1e6:.1f} MB is too large for one job description (limit {MAX_INPUT_BYTES / 1e6:.0f} MB)")
    if looks_like_html(text):
        return Document(html_to_markdown(text), "markdown", name)
    return Document(text, "markdown" if looks_like_markdown(text) else "text", name)


def read_path(path: str | Path) -> Document:
    """Read a job description file (txt, md, html, pdf, docx)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(f"{path}: {size / 1e6:.1f} MB is too large for one job description (limit {MAX_INPUT_BYTES / 1e6:.0f} MB)")
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise InputError(f"{path}: no such file") from err
    except IsADirectoryError as err:
        raise InputError(f"{path}: is a folder; give a file (or use 'jdroles batch' for folders)") from err
    except PermissionError as err:
        raise InputError(f"{path}: permission denied") from err
    return read_bytes(data, str(path))


def looks_like_html(text: str) -> bool:
    return len(_HTML_HINT.findall(text[:20000])) >= 2


def looks_like_markdown(text: str) -> bool:
    return bool(re.search(r"^#{1,6}\s|\*\*[^*\n]+\*\*|\]\([^)\s]+\)", text[:20000], re.M))


def html_to_markdown(html: str) -> str:
    """Readable Markdown from an HTML page: scripts, styles and page chrome dropped."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "lxml")
    for tag in soup(["script", "style", "noscript", "template", "svg", "head", "iframe", "form", "nav", "footer"]):
        tag.decompose()
    body = soup.body or soup
    converter = MarkdownConverter(heading_style="ATX", bullets="-", strip=["a", "img"])
    return converter.convert_soup(body)


def pdf_to_text(data: bytes, name: str = "input.pdf") -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InputError(f"{name}: the PDF is encrypted; save an unprotected copy first")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as err:
        raise InputError(f"{name}: could not read the PDF ({type(err).__name__}: {err}); is it a valid PDF file?") from err
    text = "\n\n".join(pages)
    if not text.strip():
        raise InputError(f"{name}: the PDF has no text layer (a scan?); paste the text instead")
    return text


def docx_to_markdown(data: bytes, name: str = "input.docx") -> str:
    """Paragraphs of a Word file, with headings and list items marked as in Markdown."""
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as err:
        raise InputError(f"{name}: could not read the Word file ({type(err).__name__}); is it a valid .docx?") from err
    out: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.lower().startswith(("heading", "title")):
            out.append(f"\n# {text}\n")
        elif "list" in style.lower() or paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None:
            out.append(f"- {text}")
        else:
            out.append(f"\n{text}\n")
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                if cell.text.strip():
                    out.append(f"\n{cell.text.strip()}\n")
    return "\n".join(out)


def read_jsonl_file(path: Path) -> list[dict]:
    """Every JSON object of a (trusted, project-written) JSONL file, blank lines skipped."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def iter_jsonl_objects(path: Path):
    """(line number, object) for each non-blank line of a user's JSONL file; a line that is
    not valid JSON ends in an :class:`InputError` naming it."""
    with Path(path).open(encoding="utf-8", errors="replace") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                yield n, raw, json.loads(raw)
            except json.JSONDecodeError as err:
                raise InputError(f"{path}:{n}: not valid JSON ({err.msg})") from err
