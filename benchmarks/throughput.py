"""Batch throughput: the fast path against what a user would write first, in the same run.

1. Unique lines per second: ``transformers.pipeline("text-classification", batch_size=32)``
   (torch fp32) on the unique corpus lines, then the batch engine's classifier (length-sorted
   batches; int8 ONNX when installed and validated) on the same lines. Also the model's FLOP
   rate against this machine's own peak (a large fp32 matrix multiply timed here).
2. End to end on an archive generated from the corpus (boilerplate and all): postings per
   second with line dedup on and off.
3. Memory: the same job on archives of two sizes (default 1,000 and 10,000 postings), each in
   a fresh process; peak RSS must not grow with the archive.

    python benchmarks/throughput.py [--lines 3000] [--postings 400] [--memory 1000 10000]

The last line reads ``speedup=<x> lines_per_s=<y>``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def corpus_postings() -> list[tuple[str, str]]:
    """(title, text) of every corpus posting, rebuilt from its stored lines."""
    postings = {json.loads(l)["posting_id"]: json.loads(l) for l in (REPO / "data/corpus/postings.jsonl").open()}
    lines: dict[str, list[dict]] = {}
    for raw in (REPO / "data/corpus/lines.jsonl").open():
        row = json.loads(raw)
        lines.setdefault(row["posting_id"], []).append(row)
    out = []
    for pid, rows in lines.items():
        text = "\n".join(("\n## " + r["text"]) if r["kind"] == "header" else ("- " + r["text"] if r["kind"] == "bullet" else r["text"])
                         for r in sorted(rows, key=lambda r: r["index"]))
        out.append((postings[pid]["title"], text))
    return out


def unique_lines(n: int, seed: int = 0) -> list[dict]:
    seen, items = set(), []
    for raw in (REPO / "data/corpus/lines.jsonl").open():
        row = json.loads(raw)
        key = (row["text"], row["section"] or "")
        if row["kind"] != "header" and key not in seen:
            seen.add(key)
            items.append({"text": row["text"], "section": row["section"]})
    random.Random(seed).shuffle(items)
    return items[:n]


def peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9


def model_flops(config: dict, tokenizer, items: list[dict], batch_size: int, max_length: int) -> float:
    """Forward FLOPs of the encoder over the padded, length-sorted batches the fast path runs."""
    h, layers, ffn = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
    order = sorted(items, key=lambda i: len(i["text"]) + len(i["section"] or ""))
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        enc = tokenizer([i["text"] for i in batch], [i["section"] or "" for i in batch], truncation=True,
                        max_length=max_length, padding=True)
        seq = len(enc["input_ids"][0])
        per_token = 2 * layers * (4 * h * h + 2 * h * ffn) + 2 * layers * 2 * seq * h
        total += per_token * seq * len(batch)
    return total


def run_archive(folder: Path, dedup: bool, model: Path | None) -> dict:
    from classifier.batch import BatchJob, run_batch

    out = Path(tempfile.mkdtemp()) / "result.parquet"
    return run_batch(BatchJob([folder], out, dedup=dedup), model=model, progress="none")


def make_archive(folder: Path, n: int, postings: list[tuple[str, str]], seed: int = 1) -> Path:
    """``n`` postings drawn from the corpus (repeats are real: boilerplate recurs across an archive)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        title, text = postings[rng.randrange(len(postings))]
        rows.append({"id": f"p{i:06d}", "title": title, "text": text})
    pq.write_table(pa.Table.from_pylist(rows), folder / "postings.parquet")
    return folder


def memory_child(folder: str, model: str | None) -> None:
    summary = run_archive(Path(folder), True, Path(model) if model else None)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"postings": summary["postings"], "peak_rss_mb": round(peak_mb, 1),
                      "postings_per_s": summary["postings_per_s"]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model folder (default: the default model)")
    parser.add_argument("--lines", type=int, default=3000, help="unique lines for the speed comparison")
    parser.add_argument("--postings", type=int, default=400, help="postings in the end-to-end archive")
    parser.add_argument("--memory", type=int, nargs="*", default=[1000, 10000], help="archive sizes for peak RSS")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], None if args.memory_child[1] == "-" else args.memory_child[1])
        return

    import torch
    from transformers import pipeline

    from classifier.model import default_model_path
    from classifier.onnx_backend import fast_classifier

    model_dir = args.model or default_model_path()
    items = unique_lines(args.lines)
    print(f"{len(items)} unique corpus lines; torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs")

    fast = fast_classifier(model_dir, log=print)
    fast.logits(items[:64])  # warm-up
    start = time.perf_counter()
    fast.logits(items)
    fast_s = time.perf_counter() - start
    fast_rate = len(items) / fast_s

    pipe = pipeline("text-classification", model=str(model_dir), batch_size=32, device="cpu",
                    model_kwargs={"dtype": torch.float32})
    texts = [i["text"] for i in items]
    pipe(texts[:32], truncation=True)
    start = time.perf_counter()
    pipe(texts, truncation=True)  # a few corpus lines are longer than the model's 512 positions
    base_s = time.perf_counter() - start
    base_rate = len(items) / base_s
    speedup = fast_rate / base_rate
    print(f"baseline pipeline(batch_size=32, fp32): {base_rate:.0f} lines/s")
    print(f"fast path ({fast.backend}, length-sorted, batch {fast.batch_size}): {fast_rate:.0f} lines/s "
          f"= {speedup:.2f}x the baseline")

    config = json.loads((Path(model_dir) / "config.json").read_text())
    flops = model_flops(config, fast.tokenizer, items, fast.batch_size, fast.max_length)
    peak = peak_gflops()
    achieved = flops / fast_s / 1e9
    print(f"model FLOP rate {achieved:.1f} GFLOP/s (counted as dense fp32 FLOPs) vs this machine's fp32 matmul "
          f"peak {peak:.1f} GFLOP/s: {achieved / peak:.0%} of peak")

    if args.postings:
        postings = corpus_postings()
        with tempfile.TemporaryDirectory() as tmp:
            folder = make_archive(Path(tmp) / "archive", args.postings, postings)
            on = run_archive(folder, True, args.model)
            off = run_archive(folder, False, args.model)
        print(f"end to end, {args.postings} corpus postings: dedup on {on['postings_per_s']} postings/s "
              f"({on['lines_classified_this_run']} of {on['lines_this_run']} lines through the model), "
              f"dedup off {off['postings_per_s']} postings/s")

    if args.memory:
        postings = corpus_postings()
        for n in args.memory:
            with tempfile.TemporaryDirectory() as tmp:
                folder = make_archive(Path(tmp) / "archive", n, postings, seed=n)
                result = subprocess.run([sys.executable, __file__, "--memory-child", str(folder),
                                         str(args.model) if args.model else "-"],
                                        capture_output=True, text=True, check=True)
                record = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"archive of {n} postings: peak RSS {record['peak_rss_mb']} MB, {record['postings_per_s']} postings/s")
    print(f"speedup={speedup:.2f} lines_per_s={fast_rate:.0f}")


if __name__ == "__main__":
    main()
