"""The process `inferwatch profile` measures: a fresh Python that loads your model as an emulator instance
does (onnxruntime, one intra-op thread, no spinning) and times each part of its cold start, then its warm
latency per batch size and its throughput. Run as a script (``python shell/profile_child.py SPEC``), so
nothing of the product is imported before the timed imports; it prints one JSON object per line:
``cold``, then ``batch`` per batch size (the model alone), ``request`` (one row through the service's
core) and ``throughput`` (unless the spec says ``cold_only``), then ``done`` with the peak RSS. The
sample feeds come pickled from the parent (its own temporary file).
"""

from __future__ import annotations

import json
import pickle
import resource
import sys
import time
from typing import Any

MIN_RUNS = 20  # a p95 of fewer runs is one of the few slowest
MAX_RUNS = 20_000


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _cold(spec: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """The session, the feeds and the cold start's parts (ms); the feeds' loading is the profiler's own
    work (``profiler_ms``): the parent leaves it out of the total it measures."""
    interpreter_ms = max(0.0, (time.time() - spec["spawned_at"]) * 1000.0)
    t = time.perf_counter()
    import numpy  # noqa: F401  # timed: the import is what is measured
    import onnxruntime as ort  # timed: the import is what is measured

    import_ms = _ms(t)
    t = time.perf_counter()
    import inferwatch_probe  # noqa: F401  # timed: a monitored handler imports the probe too

    probe_ms = _ms(t)
    t = time.perf_counter()
    with open(spec["model"], "rb") as f:
        raw = f.read()
    read_ms = _ms(t)
    t = time.perf_counter()
    options = ort.SessionOptions()  # as reference_service.model.OnnxModel sets it up
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(raw, sess_options=options, providers=["CPUExecutionProvider"])
    session_ms = _ms(t)
    t = time.perf_counter()
    with open(spec["feeds"], "rb") as f:
        feeds = pickle.load(f)  # noqa: S301 - the parent wrote this file for this process
    profiler_ms = _ms(t)
    t = time.perf_counter()
    session.run(None, feeds["first"])
    first_ms = _ms(t)
    parts = {"interpreter_ms": interpreter_ms, "import_ms": import_ms, "probe_import_ms": probe_ms, "read_ms": read_ms,
             "session_ms": session_ms, "first_inference_ms": first_ms}
    return session, feeds, {**parts, "profiler_ms": profiler_ms}


def _timed_runs(session: Any, feeds: list[Any], budget_s: float) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) of runs one after another, for ``budget_s`` (at least MIN_RUNS)."""
    wall: list[float] = []
    cpu: list[float] = []
    deadline = time.perf_counter() + budget_s
    i = 0
    while (len(wall) < MIN_RUNS or time.perf_counter() < deadline) and len(wall) < MAX_RUNS:
        feed = feeds[i % len(feeds)]
        i += 1
        c, t = time.process_time(), time.perf_counter()
        session.run(None, feed)
        wall.append(_ms(t))
        cpu.append((time.process_time() - c) * 1000.0)
    return wall, cpu


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _warm(session: Any, feeds: dict[str, Any], spec: dict[str, Any]) -> None:
    sizes = spec["batch_sizes"]
    latency_s = spec["duration_s"] * 0.6 / len(sizes)
    for size in sizes:
        _timed_runs(session, feeds["batches"][size], min(0.2, latency_s / 4))  # warm-up, not counted
        wall, cpu = _timed_runs(session, feeds["batches"][size], latency_s)
        _emit("batch", batch_size=size, runs=len(wall), p50_ms=_quantile(wall, 0.5), p95_ms=_quantile(wall, 0.95),
              mean_ms=sum(wall) / len(wall), cpu_mean_ms=sum(cpu) / len(cpu))
    serve = _service(session, feeds)
    _timed_runs(serve, feeds["requests"], min(0.2, latency_s / 4))  # warm-up, not counted
    wall, cpu = _timed_runs(serve, feeds["requests"], spec["duration_s"] * 0.15)
    _emit("request", runs=len(wall), p50_ms=_quantile(wall, 0.5), p95_ms=_quantile(wall, 0.95),
          mean_ms=sum(wall) / len(wall), cpu_mean_ms=sum(cpu) / len(cpu))
    start = time.perf_counter()
    wall, _ = _timed_runs(serve, feeds["requests"], spec["duration_s"] * 0.15)
    seconds = time.perf_counter() - start
    _emit("throughput", requests=len(wall), seconds=seconds, rps=len(wall) / seconds, mode="sequential")


class _Served:
    """``run(None, body)``: one request through the service's core, as an instance answers it."""

    def __init__(self, session: Any, card: Any) -> None:
        from reference_service import core  # after the timed cold start: the product is not part of it
        from reference_service.model_io import OutputReader, model_feed  # likewise

        self._core, self._feed, self._session, self._card = core, model_feed, session, card
        self._reader = OutputReader(card.task, session.get_outputs())

    def run(self, _: None, body: bytes) -> bytes:
        x = self._core.parse_request(body, self._card, 1000)
        prediction = self._reader.read(self._session.run(None, self._feed(self._card, x)))
        result = self._core.PredictionResult(prediction, self._card.version, "ok")
        return json.dumps(self._core.answer_body(result, self._card, "profile")).encode()


def _service(session: Any, feeds: dict[str, Any]) -> _Served:
    from reference_service.model import ModelCard  # after the timed cold start

    return _Served(session, ModelCard(**feeds["card"]))


def _peak_rss_mb() -> float:
    """This process's peak RSS. On Linux from VmHWM: ``ru_maxrss`` survives exec, so it would report the
    parent's size at the fork (the parent has pandas and more loaded)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)  # bytes on macOS, else kB


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    session, feeds, cold = _cold(spec)
    _emit("cold", **cold)
    if not spec.get("cold_only"):
        _warm(session, feeds, spec)
    _emit("done", peak_rss_mb=_peak_rss_mb())


if __name__ == "__main__":
    main(sys.argv)
