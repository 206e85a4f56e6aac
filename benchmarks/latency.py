"""Latency of one posting analysis, and of the web page answering it.

    python benchmarks/latency.py [--model PATH] [--runs 30] [--page] [--clients 20 --seconds 60]

Builds a 60-line job description from the bundled examples, warms up, then reports:
- ``analyze_posting`` median / p95 in ms (target: median under 300 ms on a 2-core CPU),
  beside a plain ``transformers.pipeline`` over the same 60 lines in the same process (ratio);
- with ``--page``: the same posting through a local ``python app.py`` server called with
  gradio_client (target: median under 500 ms), and optionally N concurrent clients for S
  seconds (errors, median and p95).
Timings are noisy on shared machines: compare the ratios, not single numbers.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def sixty_line_posting() -> str:
    """The four bundled examples joined and trimmed to 60 segmented lines."""
    from classifier.segment import segment

    text = "\n\n".join((REPO / "examples" / f).read_text() for f in
                       ("mixed-mystic-pm.md", "focused-pm.md", "focused-pmm.md", "marketing-ops.md"))
    lines = text.splitlines()
    while len(segment(text)) > 60:
        lines = lines[:-1]
        text = "\n".join(lines)
    return text


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(ms: list[float]) -> str:
    ordered = sorted(ms)
    return f"median {statistics.median(ms):.0f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms (n={len(ms)})"


def bench_analysis(model: str | None, runs: int, text: str) -> None:
    from transformers import pipeline

    from classifier import LineClassifier, analyze_posting
    from classifier.model import default_model_path
    from classifier.segment import segment

    classifier = LineClassifier.from_pretrained(model)
    lines = [l.text for l in segment(text)]
    for _ in range(3):
        analyze_posting(text, classifier=classifier)
    ours = timed(lambda: analyze_posting(text, classifier=classifier), runs)
    pipe = pipeline("text-classification", model=str(model or default_model_path()), device="cpu")
    pipe(lines, batch_size=32)
    plain = timed(lambda: pipe(lines, batch_size=32), max(5, runs // 3))
    print(f"lines: {len(lines)}")
    print(f"analyze_posting: {summary(ours)}")
    print(f"plain pipeline (batch 32, same lines): {summary(plain)}")
    print(f"ratio pipeline/analyze_posting: {statistics.median(plain) / statistics.median(ours):.2f}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_page(model: str | None, runs: int, text: str, clients: int, seconds: float) -> None:
    import httpx
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    args = [sys.executable, str(REPO / "app.py"), "--port", str(port)] + (["--model", model] if model else [])
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        client = Client(url, verbose=False)
        for _ in range(3):
            client.predict(text, "", api_name="/analyze")
        print(f"page answer (gradio_client, one client): {summary(timed(lambda: client.predict(text, '', api_name='/analyze'), runs))}")
        if clients:
            load(url, text, clients, seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)


def load(url: str, text: str, clients: int, seconds: float) -> None:
    from gradio_client import Client

    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.time() + seconds

    def worker():
        client = Client(url, verbose=False)
        while time.time() < deadline:
            start = time.perf_counter()
            try:
                client.predict(text, "", api_name="/analyze")
                with lock:
                    latencies.append((time.perf_counter() - start) * 1000)
            except Exception as err:  # a load test counts every failure, whatever its type
                with lock:
                    errors.append(repr(err))

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{clients} concurrent clients for {seconds:.0f} s: {len(latencies)} answers, {len(errors)} errors; "
          + (summary(latencies) if latencies else "no answers"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--page", action="store_true")
    parser.add_argument("--clients", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    text = sixty_line_posting()
    bench_analysis(args.model, args.runs, text)
    if args.page:
        bench_page(args.model, args.runs, text, args.clients, args.seconds)


if __name__ == "__main__":
    main()
