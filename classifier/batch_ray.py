"""The batch job on Ray Data (``--engine ray``; optional extra ``ray``).

Each chunk of postings becomes a Ray dataset that is segmented, classified and interpreted
by an actor pool of models (``map_batches`` with ``ActorPoolStrategy``); the driver writes
the chunk's rows as Parquet parts exactly as the local engine does, so resuming, the outputs
and the report are the same whichever engine ran. Without ``--ray-address`` a local Ray is
started (and stopped) by the command; with it, the job joins an existing cluster, whose nodes
need jd-roles installed.
"""
from __future__ import annotations

import json
import os
from typing import Callable

from .archive import PostingInput
from .errors import InputError, ModelError
from .readers import Document

META = ("title", "company", "date")


class RayAnalyser:
    """One model per actor; called on batches of postings (dict of numpy columns)."""

    def __init__(self, model: str | None, backend: str, dedup: bool, cache_size: int, num_threads: int):
        from .batch import ChunkAnalyser
        from .onnx_backend import fast_classifier

        classifier = fast_classifier(model, backend=backend, device="cpu" if backend == "onnx" else "auto",
                                     num_threads=num_threads)
        self.analyser = ChunkAnalyser(classifier, dedup=dedup, cache_size=cache_size)

    def __call__(self, batch: dict) -> dict:
        from .batch import line_rows, posting_row

        items, seqs = [], []
        for i in range(len(batch["seq"])):
            meta = {k: str(batch[k][i]) for k in META if batch[k][i]}
            source = str(batch["source"][i])
            items.append(PostingInput(source, Document(str(batch["text"][i]), str(batch["format"][i]), source), meta))
            seqs.append(int(batch["seq"][i]))
        classified_before = self.analyser.lines_classified
        analysed = self.analyser.analyse(items)
        rows, lines, seen = [], [], []
        for seq, (item, analysis) in zip(seqs, analysed):
            rows.append(json.dumps(posting_row(seq, item, analysis)))
            lines.append(json.dumps(line_rows(seq, item, analysis)) if batch["with_lines"][0] else "[]")
            seen.append(sum(1 for l in analysis.lines if l.kind != "header"))
        classified = [0] * len(rows)
        if classified:
            classified[0] = self.analyser.lines_classified - classified_before
        return {"seq": seqs, "row": rows, "lines": lines, "lines_seen": seen, "lines_classified": classified}


class RayChunkRunner:
    def __init__(self, model=None, backend: str = "auto", dedup: bool = True, cache_size: int = 100_000,
                 address: str | None = None, actors: int | None = None, batch_size: int = 16,
                 log: Callable[[str], None] = lambda m: None):
        try:
            import ray
        except ImportError as err:
            raise InputError("--engine ray needs the 'ray' extra: pip install 'jd-roles[ray]'") from err
        from .onnx_backend import fast_classifier

        # resolve the backend once on the driver (exports and validates the ONNX model if needed)
        probe = fast_classifier(model, backend=backend, log=log)
        self.backend = probe.backend
        self.model = str(model) if model is not None else None
        del probe
        self.started_here = not ray.is_initialized() and address is None
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, log_to_driver=False)
                else:
                    ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise InputError(f"could not start or reach Ray ({err})") from err
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        import logging

        logging.getLogger("ray.data").setLevel(logging.WARNING)
        cpus = int(ray.available_resources().get("CPU", 1)) or 1
        self.actors = actors or max(1, min(cpus, 4) // 2)
        self.threads = max(1, cpus // self.actors) if address is None else 1
        self.dedup, self.cache_size, self.batch_size = dedup, cache_size, batch_size
        self.lines_seen = 0
        self.lines_classified = 0
        self.ray = ray

    def process(self, good: list[tuple[int, PostingInput]], with_lines: bool) -> tuple[list[dict], list[dict]]:
        if not good:
            return [], []
        ray = self.ray
        items = [{"seq": seq, "source": item.source, "text": item.document.text, "format": item.document.format,
                  **{k: (str(item.meta[k]) if item.meta.get(k) is not None else "") for k in META},
                  "with_lines": with_lines} for seq, item in good]
        ds = ray.data.from_items(items).map_batches(
            RayAnalyser,
            fn_constructor_kwargs={"model": self.model, "backend": "onnx" if self.backend.startswith("onnx") else "torch",
                                   "dedup": self.dedup, "cache_size": self.cache_size, "num_threads": self.threads},
            compute=ray.data.ActorPoolStrategy(size=self.actors), batch_size=self.batch_size,
            num_cpus=self.threads, batch_format="numpy")
        try:
            out = sorted(ds.take_all(), key=lambda r: r["seq"])
        except Exception as err:  # Ray wraps a failure in a worker in its own exception types
            raise ModelError(f"the Ray job failed: {err}") from err
        postings, lines = [], []
        for r in out:
            postings.append(json.loads(r["row"]))
            lines.extend(json.loads(r["lines"]))
            self.lines_seen += int(r["lines_seen"])
            self.lines_classified += int(r["lines_classified"])
        return postings, lines

    def close(self) -> None:
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()
