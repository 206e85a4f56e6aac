"""The batch engine: every input format, outputs, dedup, errors file, resume after a crash,
the report, and the Ray engine (equal to the local one)."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from classifier.analysis import analyze_posting
from classifier.archive import count_postings
from classifier.batch import BatchJob, LineCache, run_batch
from classifier.errors import InputError
from classifier.model import LineClassifier
from tests.conftest import make_docx, make_pdf
from tests.tiny_model import make_tiny_model

BOILERPLATE = "We are hiring and we offer benefits and salary.\n"
DUTIES = [
    "- Own the roadmap and write prds.\n- Research customers.\n",
    "- Launch messaging for customers.\n- Write the launch messaging.\n",
    "- Run hubspot campaigns.\n- Own the hubspot campaigns and research.\n",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def classifier(tiny):
    return LineClassifier.from_pretrained(tiny, device="cpu")


class CountingClassifier:
    """The real classifier, counting the lines it is asked to score."""

    def __init__(self, inner):
        self.inner, self.name, self.backend, self.seen = inner, inner.name, "torch", 0

    def logits(self, lines):
        self.seen += len(lines)
        return self.inner.logits(lines)


def posting(i: int) -> str:
    return f"Job {i}\n\nAbout us\n{BOILERPLATE}\nWhat you'll do\n{DUTIES[i % 3]}- Task number {i} for the team.\n"


def make_archive(root: Path) -> Path:
    """A folder with every input format, including unreadable items."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir()
    (root / "a.txt").write_text(posting(0))
    (root / "b.md").write_text("# " + posting(1))
    (root / "c.html").write_text("<h2>What you'll do</h2><ul><li>Own the roadmap and write prds.</li></ul>")
    (root / "d.pdf").write_bytes(make_pdf(["What you'll do", "Run hubspot campaigns."]))
    (root / "e.docx").write_bytes(make_docx([("Requirements", "Heading 2"), ("Research customers.", None)]))
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inner/one.txt", posting(2))
        z.writestr("inner/two.md", posting(3))
        z.writestr("../evil.txt", "x")
    (root / "bundle.zip").write_bytes(buf.getvalue())
    rows = [{"job_id": f"j{i}", "description": posting(i), "title": "Product Manager", "company": f"Co{i % 2}",
             "date": f"2026-0{1 + i % 2}-15"} for i in range(4)]
    rows.append({"job_id": "j-empty", "description": "", "title": "x", "company": "Co0", "date": "2026-01-01"})
    with (root / "jobs.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (root / "jobs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    pq.write_table(pa.Table.from_pylist(rows[2:4]), root / "jobs.parquet")
    return root


def read_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        return [json.loads(l) for l in path.read_text().splitlines()]
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_every_input_format_and_the_errors_file(tmp_path, classifier):
    archive = make_archive(tmp_path / "in")
    assert count_postings([archive]) == 18  # 15 postings + 3 unreadable items
    job = BatchJob([archive], tmp_path / "out" / "result.parquet", lines_out=tmp_path / "out" / "lines.parquet",
                   chunk_size=3)
    summary = run_batch(job, classifier=classifier, progress="none")
    rows = read_rows(job.out)
    sources = [r["source"] for r in rows]
    assert sources == ["a.txt", "b.md", "bundle.zip/inner/one.txt", "bundle.zip/inner/two.md", "c.html", "d.pdf",
                       "e.docx", "jobs.csv:j0", "jobs.csv:j1", "jobs.csv:j2", "jobs.csv:j3", "jobs.jsonl:j0",
                       "jobs.jsonl:j1", "jobs.parquet:j2", "jobs.parquet:j3"][:len(sources)]
    assert len(rows) == 15 and [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    csv_rows = {r["source"]: r for r in rows if r["source"].startswith("jobs.csv")}
    assert csv_rows["jobs.csv:j1"]["company"] == "Co1" and csv_rows["jobs.csv:j1"]["title"] == "Product Manager"
    assert all(r["verdict"] in ("focused-PM", "focused-PMM", "focused-marketing-ops", "mixed", "not-enough-signal")
               for r in rows)
    errors = read_rows(job.errors_path)
    reasons = {e["source"]: e["reason"] for e in errors}
    assert set(reasons) == {"broken.pdf", "bundle.zip/../evil.txt", "jobs.csv:j-empty"}
    assert "climbs out" in reasons["bundle.zip/../evil.txt"]
    assert summary["postings"] == 15 and summary["errors"] == 3
    lines = read_rows(job.lines_out)
    assert {l["source"] for l in lines} == set(sources)
    assert not job.parts_dir.exists()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_csv_and_jsonl_outputs_hold_the_same_rows(tmp_path, classifier, suffix):
    archive = make_archive(tmp_path / "in")
    base = BatchJob([archive], tmp_path / "r.parquet")
    run_batch(base, classifier=classifier, progress="none")
    other = BatchJob([archive], tmp_path / f"r{suffix}")
    run_batch(other, classifier=classifier, progress="none")
    a, b = read_rows(base.out), read_rows(other.out)
    assert [r["source"] for r in a] == [r["source"] for r in b]
    assert [r["verdict"] for r in a] == [r["verdict"] for r in b]


def test_dedup_gives_the_same_results_with_fewer_model_calls(tmp_path, classifier):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        (folder / f"p{i:02d}.txt").write_text(posting(i))
    results = {}
    for dedup in (True, False):
        counting = CountingClassifier(classifier)
        job = BatchJob([folder], tmp_path / f"r-{dedup}.parquet", lines_out=tmp_path / f"l-{dedup}.parquet",
                       dedup=dedup, chunk_size=4)
        summary = run_batch(job, classifier=counting, progress="none")
        results[dedup] = (read_rows(job.out), read_rows(job.lines_out), counting.seen, summary)
    on, off = results[True], results[False]
    assert on[0] == off[0]
    assert [(l["label"], round(l["confidence"], 3)) for l in on[1]] == [(l["label"], round(l["confidence"], 3)) for l in off[1]]
    assert on[2] < off[2] and off[2] == off[3]["lines_this_run"]
    # the boilerplate and the three duty sets repeat: only the distinct lines reach the model
    distinct = {(l["text"], l["section"] or "") for l in on[1] if l["kind"] != "header"}
    assert on[2] == len(distinct)
    # and each posting gets the verdict analyze_posting gives it
    for row in on[0][:3]:
        expected = analyze_posting((folder / row["source"]).read_text(), classifier=classifier)
        assert row["verdict"] == expected.verdict and row["role_load"] == pytest.approx(expected.role_load, abs=1e-3)


def test_line_cache_is_bounded():
    import numpy as np

    cache = LineCache(max_items=3)
    for i in range(10):
        cache.put((str(i), ""), np.zeros(5))
    assert len(cache) == 3 and cache.get(("0", "")) is None and cache.get(("9", "")) is not None


def test_existing_output_and_foreign_parts_are_refused(tmp_path, classifier):
    archive = make_archive(tmp_path / "in")
    out = tmp_path / "r.parquet"
    out.write_text("precious")
    with pytest.raises(InputError, match="exists; add --overwrite"):
        run_batch(BatchJob([archive], out), classifier=classifier, progress="none")
    assert out.read_text() == "precious"
    parts = out.with_name(out.name + ".parts")
    parts.mkdir()
    (parts / "state.json").write_text(json.dumps({"version": 1, "inputs": ["elsewhere"]}))
    with pytest.raises(InputError, match="unfinished run with other inputs"):
        run_batch(BatchJob([archive], out, overwrite=True), classifier=classifier, progress="none")
    run_batch(BatchJob([archive], out, overwrite=True, restart=True), classifier=classifier, progress="none")
    assert len(read_rows(out)) == 15
    with pytest.raises(InputError, match=r"\.parquet, \.csv or \.jsonl"):
        run_batch(BatchJob([archive], tmp_path / "r.xlsx"), classifier=classifier, progress="none")


def test_report_has_counts_plots_and_groups(tmp_path, classifier):
    archive = make_archive(tmp_path / "in")
    job = BatchJob([archive], tmp_path / "r.parquet", report=tmp_path / "report.html")
    summary = run_batch(job, classifier=classifier, progress="none")
    html = job.report.read_text()
    assert "jd-roles batch report" in html and "Verdicts" in html
    assert html.count("data:image/png;base64,") >= 2
    assert "Mixed postings by company" in html and "co1" in html and "Mixed postings by date" in html
    assert sum(summary["verdicts"].values()) == 15
    assert {r["value"] for r in summary["mixed_by"]["date"]} == {"2026-01", "2026-02"}


def batch_command(tiny: Path, folder: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "classifier.cli", "batch", str(folder), "--out", str(out), "--model", str(tiny),
            "--backend", "torch", "--chunk-size", "5", "--progress", "json", *extra]


UNBUFFERED = {**os.environ, "PYTHONUNBUFFERED": "1"}


def posting_folder(root: Path, n: int = 300) -> Path:
    folder = root / "in"
    folder.mkdir()
    for i in range(n):
        (folder / f"p{i:03d}.txt").write_text(posting(i))
    return folder


def start_and_wait_for_chunks(command: list[str], done: int = 10) -> subprocess.Popen:
    """Start a batch run and return once its JSON progress reports ``done`` postings saved."""
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=UNBUFFERED)
    for line in proc.stderr:
        if line.startswith("{") and json.loads(line)["done"] >= done:
            return proc
    raise AssertionError("the run finished before reporting progress")


@pytest.mark.slow
def test_resume_after_the_process_is_killed(tmp_path, tiny):
    folder = posting_folder(tmp_path)
    out = tmp_path / "r.jsonl"
    proc = start_and_wait_for_chunks(batch_command(tiny, folder, out))
    os.kill(proc.pid, signal.SIGSTOP)  # freeze it mid-run, then kill it like a crash would
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    parts = out.with_name(out.name + ".parts")
    saved = sorted(parts.glob("chunk-*.postings.parquet"))
    assert not out.exists() and 2 <= len(saved) < 60
    done = subprocess.run(batch_command(tiny, folder, out), capture_output=True, text=True, env=UNBUFFERED)
    assert done.returncode == 0, done.stderr
    assert "resuming after" in done.stderr
    rows = read_rows(out)
    assert sorted(r["source"] for r in rows) == sorted(p.name for p in folder.iterdir())
    assert len({r["seq"] for r in rows}) == 300 and not parts.exists()
    fresh = tmp_path / "fresh.jsonl"
    subprocess.run(batch_command(tiny, folder, fresh), check=True, capture_output=True, env=UNBUFFERED)
    assert read_rows(fresh) == rows


@pytest.mark.slow
def test_ctrl_c_keeps_finished_chunks(tmp_path, tiny):
    folder = posting_folder(tmp_path)
    out = tmp_path / "r.parquet"
    proc = start_and_wait_for_chunks(batch_command(tiny, folder, out))
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait() == 130
    assert "run the same command to resume" in rest and "Traceback" not in rest
    assert list(out.with_name(out.name + ".parts").glob("chunk-*.postings.parquet"))


def test_cli_bad_input_is_one_line(tmp_path, tiny):
    result = subprocess.run([sys.executable, "-m", "classifier.cli", "batch", str(tmp_path / "missing"),
                             "--out", str(tmp_path / "r.parquet"), "--model", str(tiny)], capture_output=True, text=True)
    assert result.returncode == 2 and "input not found" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_onnx_int8_backend_matches_torch(tmp_path, tiny, monkeypatch):
    pytest.importorskip("onnxruntime")
    from classifier.onnx_backend import OnnxLineClassifier, fast_classifier, validate_export

    monkeypatch.setenv("JDROLES_CACHE_DIR", str(tmp_path / "cache"))
    lines = [{"text": t, "section": s, "label": lab} for t, s, lab in [
        ("Own the roadmap and write prds.", "What you'll do", "PM"), ("Launch messaging.", None, "PMM"),
        ("Run hubspot campaigns.", None, "marketing-ops"), ("We offer salary and benefits.", None, "other"),
        ("Research customers.", None, "shared")] * 4]
    record = validate_export(tiny, lines)
    assert set(record) >= {"torch_macro_f1", "onnx_int8_macro_f1", "agreement", "accepted"}
    fast = OnnxLineClassifier.from_pretrained(tiny)
    torch_probs = LineClassifier.from_pretrained(tiny, device="cpu").predict_proba(lines)
    onnx_probs = fast.predict_proba(lines)
    assert abs(onnx_probs - torch_probs).max() < 0.05
    chosen = fast_classifier(tiny, backend="auto")
    assert chosen.backend == ("onnx-int8" if record["accepted"] else "torch")


@pytest.mark.slow
def test_ray_engine_equals_local_engine(tmp_path, tiny, monkeypatch, request):
    pytest.importorskip("ray")
    home = tmp_path / "home"
    home.mkdir()
    # keeps Ray's head from probing cloud metadata endpoints (see ../shared/ENVIRONMENT.md)
    (home / "ray_bootstrap_config.yaml").write_text("provider: {type: local}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # Ray's socket paths must stay under 107 bytes: pytest's tmp_path is too deep
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", ray_tmp)
    request.addfinalizer(lambda: shutil.rmtree(ray_tmp, ignore_errors=True))
    archive = make_archive(tmp_path / "in")
    local = BatchJob([archive], tmp_path / "local.parquet", lines_out=tmp_path / "local-lines.parquet")
    run_batch(local, model=tiny, backend="torch", progress="none")
    ray_job = BatchJob([archive], tmp_path / "ray.parquet", lines_out=tmp_path / "ray-lines.parquet")
    summary = run_batch(ray_job, engine="ray", model=tiny, backend="torch", progress="none", ray_actors=1)
    assert summary["engine"] == "ray"
    assert read_rows(ray_job.out) == read_rows(local.out)
    assert read_rows(ray_job.lines_out) == read_rows(local.lines_out)
    assert read_rows(ray_job.errors_path) == read_rows(local.errors_path)
