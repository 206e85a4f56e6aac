"""Many postings at once: folders, zips (safely), CSV / JSONL / Parquet tables."""
import io
import json
import zipfile

import pytest

from classifier.archive import PostingError, PostingInput, iter_postings, safe_member_name

from conftest import make_pdf


def collect(paths, **kw):
    items = list(iter_postings(paths, **kw))
    return ([i for i in items if isinstance(i, PostingInput)], [i for i in items if isinstance(i, PostingError)])


def test_folder_of_documents(tmp_path, sample_jd):
    (tmp_path / "a.txt").write_text(sample_jd)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.pdf").write_bytes(make_pdf(["Requirements:", "- Own the roadmap"]))
    (tmp_path / "sub" / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")  # not a posting format: ignored
    ok, errors = collect([tmp_path])
    assert sorted(i.source for i in ok) == ["a.txt", "sub/b.pdf"]
    assert [e.source for e in errors] == ["sub/broken.pdf"] and "could not read the PDF" in errors[0].reason


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_zip_refuses_paths_that_climb_out(tmp_path, sample_jd):
    path = tmp_path / "postings.zip"
    path.write_bytes(zip_bytes({"ok/one.md": sample_jd.encode(), "../evil.txt": b"x", "/abs.txt": b"y"}))
    ok, errors = collect([path])
    assert [i.source for i in ok] == ["postings.zip/ok/one.md"]
    assert sorted(e.source for e in errors) == ["postings.zip/../evil.txt", "postings.zip//abs.txt"]
    assert all("climbs out" in e.reason for e in errors)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_zip_bomb_is_refused(tmp_path, monkeypatch):
    import classifier.archive as archive

    monkeypatch.setattr(archive, "MAX_ZIP_TOTAL_BYTES", 5_000_000)  # the real limit is 500 MB
    path = tmp_path / "bomb.zip"
    path.write_bytes(zip_bytes({f"f{i}.txt": b"0" * 1_000_000 for i in range(6)}))
    ok, errors = collect([path])
    assert ok == [] and len(errors) == 1 and "inflate" in errors[0].reason


def test_not_a_zip(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"not a zip at all")
    ok, errors = collect([path])
    assert "not a valid zip" in errors[0].reason


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "C:/x", "a/../../b"])
def test_unsafe_member_names(name):
    assert not safe_member_name(name)


def test_csv_jsonl_parquet_tables(tmp_path, sample_jd):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"job_id": "j1", "description": sample_jd, "title": "PM"}, {"job_id": "j2", "description": "  ", "title": "x"}]
    csv_path = tmp_path / "jobs.csv"
    import csv as csvmod
    with csv_path.open("w", newline="") as f:
        writer = csvmod.DictWriter(f, fieldnames=["job_id", "description", "title"])
        writer.writeheader()
        writer.writerows(rows)
    jsonl_path = tmp_path / "jobs.jsonl"
    jsonl_path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    parquet_path = tmp_path / "jobs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet_path)
    for path, extra_errors in ((csv_path, 0), (jsonl_path, 1), (parquet_path, 0)):
        ok, errors = collect([path])
        assert [i.source for i in ok] == [f"{path.name}:j1"] and ok[0].meta == {"title": "PM"}
        assert len(errors) == 1 + extra_errors and "empty" in errors[0].reason


def test_named_columns_and_missing_text_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("ref,body_text\nA,Own the roadmap\n")
    ok, _ = collect([path], text_column="body_text", id_column="ref")
    assert ok[0].source == "t.csv:A"
    _, errors = collect([path])
    assert "no text column" in errors[0].reason
    _, errors = collect([path], text_column="nope")
    assert "no text column 'nope'" in errors[0].reason
