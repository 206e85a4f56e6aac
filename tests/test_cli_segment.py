import io
import json
import subprocess
import sys

import pytest

from classifier.cli import main


def run_cli(args, capsys, stdin: bytes | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_segment_jsonl(tmp_path, capsys, sample_jd):
    path = tmp_path / "jd.txt"
    path.write_text(sample_jd)
    code, out, _ = run_cli(["segment", str(path), "--format", "jsonl"], capsys)
    rows = [json.loads(l) for l in out.splitlines()]
    assert code == 0
    assert {"index", "text", "kind", "section", "line_no", "start", "end", "marker"} <= set(rows[0])
    assert rows[-1]["text"] == "Excellent communication skills." and rows[-1]["section"] == "Requirements"


def test_segment_table_from_stdin(capsys, monkeypatch):
    code, out, _ = run_cli(["segment", "-"], capsys, stdin=b"Duties:\n- Own the roadmap\n", monkeypatch=monkeypatch)
    assert code == 0 and "Own the roadmap" in out and "bullet" in out


@pytest.mark.parametrize("content, name, message", [
    (b"\x00\x01binary\x02" * 50, "x.txt", "looks like a binary file"),
    (b"%PDF-1.7 broken", "x.pdf", "could not read the PDF"),
])
def test_segment_bad_file_is_one_line_error(tmp_path, capsys, content, name, message):
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run_cli(["segment", str(path)], capsys)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_console_script_help_and_missing_file(tmp_path):
    result = subprocess.run(["jdroles", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "segment" in result.stdout
    result = subprocess.run(["jdroles", "segment", str(tmp_path / "missing.txt")], capture_output=True, text=True)
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr
