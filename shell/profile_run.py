"""`inferwatch profile`'s measurements: your model in fresh processes, as an emulator instance loads it.

Each process (``shell/profile_child.py``) times its cold start in parts (interpreter start, imports of
numpy and onnxruntime, import of the probe a monitored handler adds, reading the model file, creating
the session, the first inference); the first one
then measures warm latency per batch size of the model alone (rows drawn from your data), the latency of
a request of one row through the service's core (parse the JSON body, run the model, read its outputs,
write the answer: the work an instance does per request), and the requests per second it sustains so,
sent one after another. The cold start is the median of several fresh
processes: its total is spawn to first answer as the parent sees it, so the parts sum to less (the gaps).
The projection of these numbers onto Lambda and Cloud Run is :mod:`costs.projection`.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from costs.projection import MeasuredProfile
from reference_service.errors import ModelLoadError
from reference_service.model_io import model_feed
from reference_service.onnx_file import TASKS, infer_task
from shell.exits import CommandError
from shell.own_baseline import read_model_and_rows

CHILD = Path(__file__).with_name("profile_child.py")
DRAWS_PER_BATCH = 64  # different samples of rows per batch size, cycled through
COLD_PARTS = ("interpreter_ms", "import_ms", "probe_import_ms", "read_ms", "session_ms", "first_inference_ms")
SEED = 16


@dataclass(frozen=True)
class ProfileRequest:
    model: Path
    data: Path
    batch_sizes: tuple[int, ...] = (1, 8, 32)
    duration_s: float = 10.0  # warm measuring time of the first process
    cold_starts: int = 3  # fresh processes whose cold starts are measured
    input_name: str | None = None
    label_column: str | None = None
    task: str | None = None  # None: read from the model's outputs


@dataclass(frozen=True)
class BatchLatency:
    batch_size: int
    runs: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    cpu_mean_ms: float


@dataclass(frozen=True)
class ProfileResult:
    model: Path
    data: Path
    rows: int  # rows of the data the samples are drawn from
    task: str  # as given, or read from the model's outputs
    cold_start: dict[str, float]  # the parts and total_ms of the median cold start of the fresh processes
    cold_start_totals_ms: tuple[float, ...]  # each process's total
    peak_memory_mb: float  # the largest peak RSS of the processes
    batches: tuple[BatchLatency, ...]  # the model alone (session.run)
    request: BatchLatency  # one row through the service's core: parse the body, run the model, answer
    throughput_rps: float
    throughput_mode: str  # how it was measured: "sequential"
    host_cpus: int

    def batch(self, size: int) -> BatchLatency:
        return next(b for b in self.batches if b.batch_size == size)

    def measured(self) -> MeasuredProfile:
        """What the projection starts from: a request of one row through the service's core, which is the
        work an instance is billed for per request."""
        one = self.request
        init_ms = sum(self.cold_start[p] for p in COLD_PARTS if p != "first_inference_ms")
        return MeasuredProfile(init_ms=init_ms, first_inference_ms=self.cold_start["first_inference_ms"],
                               peak_memory_mb=self.peak_memory_mb, p50_ms=one.p50_ms, p95_ms=one.p95_ms,
                               mean_ms=one.mean_ms, cpu_fraction=min(1.0, one.cpu_mean_ms / one.mean_ms),
                               throughput_rps=self.throughput_rps)


def _feeds(request: ProfileRequest, path: Path) -> tuple[int, str]:
    """Writes the samples for the child to ``path``: model feeds per batch size, request bodies of one row
    and the card the service would use; returns the data's row count and the task. Every bad input (not
    an ONNX file, unreadable data, a missing column, a task the model does not have) is refused here,
    before any process starts."""
    if request.task is not None and request.task not in TASKS:
        raise CommandError(f"--task {request.task!r}: one of {', '.join(TASKS)}")
    model, session, card, rows = read_model_and_rows(request.model, request.data, input_name=request.input_name,
                                                     label_column=request.label_column)
    try:
        task = request.task or infer_task(model, session)
    except ModelLoadError as exc:
        raise CommandError(f"model {exc.path}: {exc.reason}") from exc
    if task == "regression" and any(o.type.startswith("seq(map(") for o in model.outputs):
        raise CommandError(f"--task regression: the model {request.model} gives class probabilities")
    rng = np.random.default_rng(SEED)
    batches = {size: [model_feed(card, rows[rng.integers(0, len(rows), size)]) for _ in range(DRAWS_PER_BATCH)]
               for size in sorted({1, *request.batch_sizes})}
    bodies = [json.dumps({"instances": [rows[i].tolist()]}).encode() for i in rng.integers(0, len(rows), 256)]
    with path.open("wb") as f:
        pickle.dump({"first": model_feed(card, rows[:1]), "batches": batches, "requests": bodies,
                     "card": asdict(replace(card, task=task))}, f)
    return len(rows), task


def _child(spec: dict[str, Any], on_event: Callable[[dict[str, Any]], None], timeout_s: float) -> list[dict[str, Any]]:
    """Run one measured process; its events, each also handed to ``on_event`` as it arrives."""
    spec = {**spec, "spawned_at": time.time()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERWATCH_")}
    proc = subprocess.Popen([sys.executable, str(CHILD), json.dumps(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "cold":  # spawn to first answer, as the parent saw it
            seen_ms = (time.time() - spec["spawned_at"]) * 1000.0
            events[-1]["total_ms"] = seen_ms - events[-1]["profiler_ms"]
        on_event(events[-1])
        if time.monotonic() > deadline:
            proc.kill()
            break
    _, stderr = proc.communicate()
    if proc.returncode != 0 or not events or events[-1]["event"] != "done":
        last = (stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1][:300]
        raise CommandError(f"model {spec['model']}: the profiled process failed: {last}")
    return events


def run_profile(request: ProfileRequest, on_event: Callable[[dict[str, Any]], None] = lambda _: None
                ) -> ProfileResult:
    """Measure the model (see the module docstring); ``on_event`` sees each measurement as it arrives."""
    if request.cold_starts < 1:
        raise CommandError(f"--cold-starts: {request.cold_starts} is below 1")
    with tempfile.TemporaryDirectory(prefix="inferwatch-profile-") as tmp:
        feeds = Path(tmp) / "feeds.pickle"
        rows, task = _feeds(request, feeds)
        spec = {"model": str(request.model.resolve()), "feeds": str(feeds), "duration_s": request.duration_s,
                "batch_sizes": sorted({1, *request.batch_sizes})}
        timeout_s = request.duration_s * 3 + 120.0
        runs = [_child(spec, on_event, timeout_s)]
        runs += [_child({**spec, "cold_only": True}, on_event, 120.0) for _ in range(request.cold_starts - 1)]
    return _result(request, rows, task, runs)


def _result(request: ProfileRequest, rows: int, task: str, runs: Sequence[list[dict[str, Any]]]) -> ProfileResult:
    colds = [next(e for e in events if e["event"] == "cold") for events in runs]
    # the parts of the process whose total is the median, so parts and total come from one cold start
    median = sorted(colds, key=lambda c: c["total_ms"])[(len(colds) - 1) // 2]
    parts = {p: float(median[p]) for p in (*COLD_PARTS, "total_ms")}
    first = runs[0]
    batches = tuple(BatchLatency(e["batch_size"], e["runs"], e["p50_ms"], e["p95_ms"], e["mean_ms"],
                                 e["cpu_mean_ms"]) for e in first if e["event"] == "batch")
    served = next(e for e in first if e["event"] == "request")
    throughput = next(e for e in first if e["event"] == "throughput")
    peak = max(next(e for e in events if e["event"] == "done")["peak_rss_mb"] for events in runs)
    return ProfileResult(request.model, request.data, rows, task, parts, tuple(c["total_ms"] for c in colds), peak,
                         batches, BatchLatency(1, served["runs"], served["p50_ms"], served["p95_ms"],
                                               served["mean_ms"], served["cpu_mean_ms"]),
                         throughput["rps"], throughput["mode"], os.cpu_count() or 1)
