"""``jdroles label``: answer validation, retries, rate limiting, both backends for real (slow)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from classifier.cli import main
from classifier.errors import InputError, ModelError
from classifier.labels import LABEL_NAMES
from tests.tiny_model import make_tiny_model
from training.label import (DEFAULT_EXAMPLES, Answer, MalformedAnswer, OpenAIBackend, RateLimiter, RetryPolicy,
                            TransientError, api_key_from_env, ask, build_messages, compare, label_items,
                            load_examples, normalise_label, parse_answer)

LINES = ["Own the product roadmap and prioritise the backlog with engineering.",
         "Build battlecards and train the sales team on competitive objections.",
         "We offer a competitive salary and 25 days of paid leave."]


class Scripted:
    """A backend that plays back answers (or raises them when they are exceptions)."""
    name = "scripted LLM"

    def __init__(self, answers, max_concurrency=1):
        self.answers, self.calls, self.max_concurrency = list(answers), [], max_concurrency

    def complete(self, messages):
        self.calls.append(messages)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def no_sleep():
    waits = []
    return RetryPolicy(tries=3, backoff_s=1.0, sleep=waits.append), waits


# --- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, label", [
    ("PM", "PM"), ("pmm", "PMM"), ("Shared", "shared"), ("Marketing Ops", "marketing-ops"),
    ("marketing_operations", "marketing-ops"), ("MOPS", "marketing-ops"), ("Product Marketing", "PMM"),
    ("other.", "other"), ("marketting-ops", "marketing-ops"), ("PM (product management)", "PM"),
])
def test_normalise_label_accepts_close_variants(raw, label):
    assert normalise_label(raw) == label


@pytest.mark.parametrize("raw", ["sales", "engineering", "", "P", 3, None])
def test_normalise_label_refuses_other_answers(raw):
    with pytest.raises(MalformedAnswer, match="expected one of PM, PMM, shared, marketing-ops, other"):
        normalise_label(raw)


def test_parse_answer_finds_the_json_object():
    assert parse_answer('{"label": "PMM", "reason": "Sales\\n enablement."}') == Answer("PMM", "Sales enablement.")
    fenced = 'Sure!\n```json\n{"label": "marketing ops", "reason": "HubSpot"}\n```'
    assert parse_answer(fenced) == Answer("marketing-ops", "HubSpot")
    assert parse_answer('{"label": "other"}') == Answer("other", "")
    assert len(parse_answer(json.dumps({"label": "PM", "reason": "x" * 1000})).reason) == 300


@pytest.mark.parametrize("raw, message", [
    ("", "the answer was empty"),
    ("I think it is PM", r'expected a JSON object like \{"label": "PM"'),
    ('{"role": "PM"}', "the JSON object has no 'label'; found keys 'role'"),
    ('{"label": "sales"}', "label 'sales'; expected one of"),
])
def test_parse_answer_says_what_is_wrong(raw, message):
    with pytest.raises(MalformedAnswer, match=message):
        parse_answer(raw)


# --- retries -------------------------------------------------------------------------------

def test_ask_retries_a_malformed_answer_with_a_correction():
    backend = Scripted(["PM, because roadmap", '{"label": "PM", "reason": "roadmap"}'])
    policy, waits = no_sleep()
    assert ask(backend, [{"role": "user", "content": "x"}], policy) == Answer("PM", "roadmap")
    assert len(backend.calls) == 2 and waits == [1.0]
    retry = backend.calls[1]
    assert retry[-2] == {"role": "assistant", "content": "PM, because roadmap"}
    assert "not usable: expected a JSON object" in retry[-1]["content"]


def test_ask_backs_off_on_transient_errors_and_honours_retry_after():
    backend = Scripted([TransientError("timeout"), TransientError("429", retry_after=5.0), '{"label": "other"}'])
    policy, waits = no_sleep()
    assert ask(backend, [], policy).label == "other"
    assert waits == [1.0, 5.0]


def test_ask_gives_a_clear_error_after_the_last_try():
    backend = Scripted(['{"label": "sales"}'])
    policy, waits = no_sleep()
    with pytest.raises(ModelError, match=r"scripted LLM gave no usable answer for line 4 after 3 tries; "
                                         r"last malformed answer: label 'sales'"):
        ask(backend, [], policy, what="line 4")
    assert waits == [1.0, 2.0] and len(backend.calls) == 3


def test_label_items_keeps_order_and_can_skip_failures():
    answers = {LINES[0]: '{"label": "PM"}', LINES[1]: "nope", LINES[2]: '{"label": "other"}'}

    class ByLine(Scripted):
        def complete(self, messages):
            asked = next(m["content"] for m in reversed(messages) if "Line: " in m["content"])
            return answers[asked.split("Line: ")[1]]

    backend = ByLine([], max_concurrency=3)
    items = [{"text": t} for t in LINES]
    policy = RetryPolicy(tries=2, sleep=lambda s: None)
    with pytest.raises(ModelError, match="for line 2"):
        label_items(items, backend, "standard", policy=policy)
    results = label_items(items, backend, "standard", policy=policy, on_error="skip")
    assert results[0] == Answer("PM", "") and results[2] == Answer("other", "")
    assert isinstance(results[1], ModelError)


def test_rate_limiter_spaces_requests():
    now, waits = [0.0], []
    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=waits.append)
    for _ in range(3):
        limiter.wait()
    assert waits == [0.5, 1.0]
    with pytest.raises(InputError, match="above 0"):
        RateLimiter(0)


def test_prompt_holds_the_standard_examples_and_the_line():
    messages = build_messages({"text": "Write PRDs", "section": "Duties"}, "THE STANDARD")
    assert messages[0]["role"] == "system" and "THE STANDARD" in messages[0]["content"]
    assert len(messages) == 2 + 2 * len(DEFAULT_EXAMPLES)
    assert messages[-1] == {"role": "user", "content": "Section: Duties\nLine: Write PRDs"}
    assert {json.loads(m["content"])["label"] for m in messages if m["role"] == "assistant"} == set(LABEL_NAMES)


def test_examples_file_is_validated(tmp_path):
    path = tmp_path / "ex.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"line {i}", "label": l}) for i, l in enumerate(["PM", "PM", "PM"])))
    assert [e.text for e in load_examples(path)] == ["line 0", "line 1"]
    path.write_text(json.dumps({"text": "x", "label": "mops"}))
    with pytest.raises(InputError, match="label\\(s\\) 'mops'; expected one of PM, PMM"):
        load_examples(path)


def test_api_key_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("JDROLES_LLM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(InputError, match="set JDROLES_LLM_API_KEY or OPENAI_API_KEY"):
        api_key_from_env(None)
    assert api_key_from_env("http://127.0.0.1:8000/v1") == "not-needed"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-b")
    monkeypatch.setenv("JDROLES_LLM_API_KEY", "sk-a")
    assert api_key_from_env(None) == "sk-a"


def test_openai_backend_reports_an_unreachable_server():
    port = free_port()  # nothing listens there
    backend = OpenAIBackend("any", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=5)
    policy = RetryPolicy(tries=2, sleep=lambda s: None)
    with pytest.raises(ModelError, match=rf"after 2 tries; last failure: could not connect to http://127.0.0.1:{port}/v1"):
        ask(backend, build_messages({"text": "x"}, "standard"), policy)


def test_compare_flags_disagreements(tmp_path):
    from classifier.model import LineClassifier

    classifier = LineClassifier.from_pretrained(make_tiny_model(tmp_path / "m"), device="cpu")
    items = [{"text": "own the roadmap", "section": None}, {"text": "hubspot", "section": None}]
    model_label = classifier.predict(items)[0].label
    other = next(l for l in LABEL_NAMES if l != model_label)
    rows = compare(items, [Answer(model_label, "a"), ModelError("no answer")], classifier)
    assert rows[0]["disagree"] is False and rows[0]["label"] == model_label
    rows = compare(items, [Answer(other, "b"), ModelError("no answer")], classifier)
    assert rows[0]["disagree"] is True and rows[0]["label"] == other
    assert rows[1]["label"] == "" and rows[1]["llm_reason"] == "error: no answer" and rows[1]["disagree"] is False


# --- both backends, for real ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_pool(tmp_path: Path) -> Path:
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"text": t, "section": "What you'll do", "posting_id": "p1"}) + "\n"
                            for t in LINES[:2]))
    return pool


def check_output(out: Path) -> list[dict]:
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["text", "section", "posting_id", "llm_label", "llm_reason", "model_label",
                             "model_confidence", "disagree", "label"]
    assert [r["text"] for r in rows] == LINES[:2]
    for r in rows:
        assert r["llm_label"] in LABEL_NAMES and r["label"] == r["llm_label"] and r["llm_reason"]
        assert r["disagree"] == str(r["llm_label"] != r["model_label"])
    return rows


@pytest.fixture(scope="module")
def offline_env():
    pytest.importorskip("gguf", reason="the local LLM needs: pip install gguf")
    from training.label import smollm2_gguf

    try:
        smollm2_gguf()
    except ModelError as err:
        pytest.skip(str(err))
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    yield
    for key, value in old.items():
        os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


@pytest.mark.slow
def test_label_with_the_local_backend(tmp_path, offline_env):
    out = tmp_path / "labelled.csv"
    argv = ["label", "--backend", "local", "--pool", str(write_pool(tmp_path)), "--out", str(out),
            "--classifier", str(make_tiny_model(tmp_path / "m"))]
    assert main(argv) == 0
    rows = check_output(out)
    assert all("most likely of the five labels" in r["llm_reason"] for r in rows)


def export_smollm2(out: Path) -> Path:
    """SmolLM2 as a plain transformers folder that ``transformers serve`` can load (it cannot serve the GGUF)."""
    import torch
    from transformers import AutoModelForCausalLM

    from training.label import load_causal_lm

    model, tokenizer = load_causal_lm()
    config = model.config
    config.architectures = ["LlamaForCausalLM"]
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory, offline_env):
    if subprocess.run([sys.executable, "-c", "import fastapi, uvicorn"], capture_output=True).returncode:
        pytest.skip("transformers serve needs: pip install 'transformers[serving]'")
    root = tmp_path_factory.mktemp("serve")
    model = export_smollm2(root / "smollm2")
    (root / "hub").mkdir()
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(root / "hub"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    cli = Path(sys.executable).parent / "transformers"
    if not cli.is_file():
        cli = shutil.which("transformers") or pytest.skip("no transformers CLI: pip install 'transformers[serving]'")
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen([str(cli), "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
                             "--device", "cpu"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_health(f"http://127.0.0.1:{port}/health", proc, root / "serve.log")
        yield f"http://127.0.0.1:{port}/v1", str(model)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_for_health(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"transformers serve exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"transformers serve did not answer {url} within {timeout_s} s:\n{log.read_text()[-2000:]}")


@pytest.mark.slow
def test_label_with_the_openai_backend_against_a_real_server(tmp_path, server, monkeypatch):
    base_url, model = server
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("JDROLES_LLM_API_KEY", raising=False)
    out = tmp_path / "labelled.csv"
    argv = ["label", "--backend", "openai", "--base-url", base_url, "--model", model, "--pool",
            str(write_pool(tmp_path)), "--out", str(out), "--max-concurrency", "2", "--rps", "5", "--timeout", "120",
            "--classifier", str(make_tiny_model(tmp_path / "m"))]
    assert main(argv) == 0
    check_output(out)
