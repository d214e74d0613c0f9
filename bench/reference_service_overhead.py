"""The reference service's own overhead at batch 1 against a bare onnxruntime ``session.run``.

Same input, same process, interleaved: each round runs the bare session once and the Lambda handler
once (an HTTP API v2 event: JSON parsing, validation, the deadline watchdog, answer building and the EMF
line with its input summary encoded and written to /dev/null). Reports p50/p95 wall time of both, the
p50 difference (goal: at most 0.2 ms) and the p50 ratio, plus the same for the calling thread's CPU
time, which a busy shared machine inflates far less than wall time (its 1-minute load is recorded).
Run: ``python bench/reference_service_overhead.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inferwatch_probe.sinks import StdoutSink

from reference_service.handler_lambda import LambdaAdapter
from reference_service.invocation import Service
from reference_service.model import PACKAGED_MODEL_DIR
from reference_service.settings import ServiceSettings

GOAL_OVERHEAD_MS = 0.2


class _Context:
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 4)


def _measure(session: ort.InferenceSession, x: np.ndarray, adapter: LambdaAdapter, event: dict[str, object],
             rounds: int) -> dict[str, object]:
    context = _Context()
    for _ in range(300):  # warm-up: allocations, caches
        session.run(None, {"input": x})
        adapter(event, context)
    bare_ms: list[float] = []
    handler_ms: list[float] = []
    bare_cpu_ms: list[float] = []
    handler_cpu_ms: list[float] = []
    for _ in range(rounds):
        c0, t0 = time.thread_time(), time.perf_counter()
        session.run(None, {"input": x})
        c1, t1 = time.thread_time(), time.perf_counter()
        resp = adapter(event, context)
        c2, t2 = time.thread_time(), time.perf_counter()
        bare_ms.append((t1 - t0) * 1000)
        handler_ms.append((t2 - t1) * 1000)
        bare_cpu_ms.append((c1 - c0) * 1000)
        handler_cpu_ms.append((c2 - c1) * 1000)
    assert resp["statusCode"] == 200
    return {
        "bare_session_run_ms": {"p50": _pct(bare_ms, 50), "p95": _pct(bare_ms, 95)},
        "lambda_handler_ms": {"p50": _pct(handler_ms, 50), "p95": _pct(handler_ms, 95)},
        "overhead_p50_ms": round(_pct(handler_ms, 50) - _pct(bare_ms, 50), 4),
        "ratio_p50": round(_pct(handler_ms, 50) / _pct(bare_ms, 50), 2),
        # CPU time of the calling thread (everything runs on it): what the handler costs, without the
        # time spent waiting for a CPU on a shared machine
        "overhead_cpu_p50_ms": round(_pct(handler_cpu_ms, 50) - _pct(bare_cpu_ms, 50), 4),
        "ratio_cpu_p50": round(_pct(handler_cpu_ms, 50) / _pct(bare_cpu_ms, 50), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "reference_service_overhead.json")
    args = parser.parse_args()

    row = np.load(PACKAGED_MODEL_DIR / "heldout_v1.npz")["inputs"][:1]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(PACKAGED_MODEL_DIR / "v1.onnx"), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    devnull = open(os.devnull, "w")  # noqa: SIM115 - held for the whole run
    event = {"version": "2.0", "rawPath": "/predict", "isBase64Encoded": False,
             "body": json.dumps({"instances": row.astype(float).tolist()}),
             "requestContext": {"http": {"method": "POST", "path": "/predict"}, "requestId": "bench"}}
    x = np.ascontiguousarray(row, dtype=np.float32)
    result: dict[str, object] = {"benchmark": "reference_service_overhead", "rounds": args.rounds}
    for label, summary in (("", True), ("_without_input_summary", False)):
        settings = ServiceSettings(concurrency=1, deployment="bench", input_summary=summary)
        adapter = LambdaAdapter(Service(settings, StdoutSink(stream=devnull)))
        result.update({f"{k}{label}": v for k, v in _measure(session, x, adapter, event, args.rounds).items()})
    result.update({
        "goal_overhead_p50_ms": GOAL_OVERHEAD_MS,
        "goal_met": result["overhead_p50_ms"] <= GOAL_OVERHEAD_MS,  # type: ignore[operator]
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "onnxruntime": ort.__version__,
                    "load_avg_1m": round(os.getloadavg()[0], 2)},
    })
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
