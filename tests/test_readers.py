import pytest

from classifier import InputError, read_bytes, read_path, read_text, segment_document
from classifier.readers import MAX_INPUT_BYTES

from conftest import make_docx, make_pdf


def lines_of(doc):
    return [(l.kind, l.text) for l in segment_document(doc)]


def test_plain_text_file(tmp_path, sample_jd):
    path = tmp_path / "jd.txt"
    path.write_text(sample_jd)
    assert ("bullet", "Write clear user stories with acceptance criteria.") in lines_of(read_path(path))


def test_markdown_file(tmp_path):
    path = tmp_path / "jd.md"
    path.write_text("# Product Manager\n\n## What you'll do\n\n* Own the **roadmap**\n* Write [PRDs](http://x)\n")
    assert lines_of(read_path(path)) == [
        ("header", "Product Manager"), ("header", "What you'll do"),
        ("bullet", "Own the roadmap"), ("bullet", "Write PRDs")]


def test_html_page_with_scripts_and_styles():
    html = """<html><head><title>Job</title><style>li {color: red}</style>
    <script>var tracking = "Own the roadmap";</script></head><body>
    <nav>Home | Careers</nav><h2>Responsibilities</h2><ul><li>Own the roadmap</li>
    <li>Write <b>user stories</b></li></ul><p>We are an equal opportunity employer. Apply today.</p>
    <script>alert(1)</script></body></html>"""
    doc = read_bytes(html.encode(), "job.html")
    assert lines_of(doc) == [
        ("header", "Responsibilities"), ("bullet", "Own the roadmap"), ("bullet", "Write user stories"),
        ("sentence", "We are an equal opportunity employer."), ("sentence", "Apply today.")]
    assert "tracking" not in doc.text and "color" not in doc.text


def test_pasted_html_is_detected():
    doc = read_text("<div><p>About us</p><ul><li>Own the roadmap</li></ul></div>")
    assert ("bullet", "Own the roadmap") in lines_of(doc)


def test_pdf_file(tmp_path):
    path = tmp_path / "jd.pdf"
    path.write_bytes(make_pdf(["Requirements:", "- Own the roadmap", "- Write PRDs"]))
    assert lines_of(read_path(path)) == [
        ("header", "Requirements:"), ("bullet", "Own the roadmap"), ("bullet", "Write PRDs")]


def test_docx_file_with_headings_and_lists(tmp_path):
    path = tmp_path / "jd.docx"
    path.write_bytes(make_docx([("About the role", "Heading 1"), ("We build tools.", None),
                                ("Own the roadmap", "List Bullet"), ("Write PRDs", "List Bullet")]))
    assert lines_of(read_path(path)) == [
        ("header", "About the role"), ("sentence", "We build tools."),
        ("bullet", "Own the roadmap"), ("bullet", "Write PRDs")]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-8-sig"])
def test_non_utf8_text(encoding):
    doc = read_bytes("Rôle: Café product manager - own the roadmap\n".encode(encoding), "jd.txt")
    assert "Café product manager" in doc.text


def test_mostly_utf8_with_stray_latin1_byte():
    doc = read_bytes("• Own the roadmap\n".encode() + b"We build\xa0things.\n", "jd.txt")
    assert [t for _, t in lines_of(doc)] == ["Own the roadmap", "We build things."]


@pytest.mark.parametrize("data, name, message", [
    (b"\x00\x01\x02\x03binary" * 100, "x.txt", "looks like a binary file"),
    (b"%PDF-1.4 this is not really a pdf", "x.pdf", "could not read the PDF"),
    (b"PK\x03\x04 not a zip", "x.docx", "could not read the Word file"),
    (b"a" * (MAX_INPUT_BYTES + 1), "big.txt", "too large"),
])
def test_bad_input_gives_clear_error(data, name, message):
    with pytest.raises(InputError, match=message):
        read_bytes(data, name)


def test_five_megabyte_paste_is_refused_clearly():
    with pytest.raises(InputError, match="too large"):
        read_text("Own the roadmap. " * 300_000)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_path(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="is a folder"):
        read_path(tmp_path)


def test_empty_and_whitespace_files(tmp_path):
    for content in (b"", b"  \n\n\t \r\n"):
        path = tmp_path / "empty.txt"
        path.write_bytes(content)
        assert lines_of(read_path(path)) == []
