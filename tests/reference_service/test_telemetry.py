from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_service.telemetry import (
    EMF_ARRAY_LIMIT,
    MAX_LINE_BYTES,
    STATUSES,
    FileSink,
    InvocationRecord,
    ShadowOutcome,
    StdoutSink,
    capped_classes,
    capped_scores,
    emf_document,
    encode_line,
    parse_line,
    summarize_inputs,
)

NAMES = [f"feature {i}" for i in range(30)]
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def _record(**kw: object) -> InvocationRecord:
    base: dict[str, object] = {
        "timestamp_ms": 1_764_000_000_123, "deployment": "scorer-v1", "model_version": "v1", "role": "stable",
        "request_id": "r1", "status": "ok", "latency_ms": 3.21, "cold_start": 1, "init_ms": 812.4,
        "memory_mb": 512, "max_memory_used_mb": 131.7, "rows": 2, "scores": (0.91, 0.42), "classes": (1, 0)}
    base.update(kw)
    return InvocationRecord(**base)  # type: ignore[arg-type]


shadows = st.none() | st.builds(
    ShadowOutcome, st.sampled_from(["v1", "v2"]), st.sampled_from(["ok", "error", "timeout", "skipped"]),
    st.lists(st.floats(0, 1), max_size=5).map(tuple), st.lists(st.integers(0, 1), max_size=5).map(tuple),
    st.none() | st.floats(0, 1), st.none() | st.floats(0, 1e4))


@settings(max_examples=200, deadline=None)
@given(status=st.sampled_from(STATUSES), latency=finite, cold=st.integers(0, 1), rows=st.integers(0, 10_000),
       scores=st.lists(st.floats(0, 1), max_size=EMF_ARRAY_LIMIT).map(tuple),
       classes=st.lists(st.integers(0, 1), max_size=EMF_ARRAY_LIMIT).map(tuple),
       rid=st.text(max_size=40), error=st.none() | st.text(min_size=1, max_size=20), shadow=shadows)
def test_lines_parse_back_to_the_values_that_produced_them(
        status: str, latency: float, cold: int, rows: int, scores: tuple[float, ...], classes: tuple[int, ...],
        rid: str, error: str | None, shadow: ShadowOutcome | None) -> None:
    record = _record(status=status, latency_ms=latency, cold_start=cold, rows=rows, scores=scores,
                     classes=classes, request_id=rid, error_type=error if status != "ok" else None, shadow=shadow)
    assert parse_line(encode_line(record)) == record


def test_warm_capacity_invocations_say_so_and_others_leave_it_out() -> None:
    warm = _record(cold_start=0, init_ms=0.0, prewarmed=True)
    assert emf_document(warm)["Prewarmed"] == 1 and parse_line(encode_line(warm)) == warm
    assert "Prewarmed" not in emf_document(_record())
    assert parse_line(encode_line(_record())).prewarmed is False


def test_status_flags_mirror_status() -> None:
    for status in STATUSES:
        doc = emf_document(_record(status=status, error_type=None if status == "ok" else "X"))
        flags = {k: doc[k] for k in ("ClientError", "Timeout", "Degraded", "ServerError")}
        assert sum(flags.values()) == (0 if status == "ok" else 1)
        assert ("ErrorType" in doc) == (status != "ok")


def test_emf_declares_metrics_cloudwatch_must_extract() -> None:
    doc = emf_document(_record(shadow=ShadowOutcome("v2", "ok", (0.9,), (1,), 1.0, 2.0)))
    declared = {m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert declared == {"LatencyMs", "InitMs", "Rows", "ColdStart", "ClientError", "Timeout", "Degraded",
                        "ServerError", "MaxMemoryUsedMb", "PredictionScore", "ShadowAgree"}
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Deployment"], ["Deployment", "ModelVersion"]]
    empty = emf_document(_record(status="client_error", rows=0, scores=(), classes=(), error_type="E"))
    assert "PredictionScore" not in {m["Name"] for m in empty["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_arrays_capped_and_line_bounded() -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1000, size=(256, 30)).astype(np.float32)
    long_names = [f"a very long feature name number {i:03d} " * 5 for i in range(30)]
    summary = summarize_inputs(x, long_names)
    record = _record(rows=256, scores=capped_scores(rng.uniform(size=256)), classes=capped_classes(rng.integers(0, 2,
                                                                                                                256)),
                     input_summary=summary, input_summary_rows=len(next(iter(summary.values()))))
    line = encode_line(record)
    doc = json.loads(line)
    assert len(line) <= MAX_LINE_BYTES
    assert len(doc["PredictionScore"]) == EMF_ARRAY_LIMIT == len(doc["PredictedClass"])
    rows = doc["InputSummaryRows"]
    assert 0 <= rows < 10 and all(len(v) == rows for v in doc["InputSummary"].values())


def test_input_summary_spreads_over_the_batch() -> None:
    x = np.arange(100 * 30, dtype=np.float32).reshape(100, 30)
    summary = summarize_inputs(x, NAMES, max_rows=3)
    assert summary["feature 0"] == [0.0, 1500.0, 2970.0]
    assert summarize_inputs(x[:0], NAMES) == {}


def test_cloud_run_lines_carry_severity_and_message() -> None:
    out = io.StringIO()
    StdoutSink(cloud_run=True, stream=out).write(_record(status="error", error_type="InferenceError"))
    doc = json.loads(out.getvalue())
    assert doc["severity"] == "ERROR" and "error" in doc["message"] and out.getvalue().count("\n") == 1


def test_file_sink_rotates_and_never_interleaves(tmp_path: Path) -> None:
    sink = FileSink(tmp_path, "inst-1", rotate_bytes=20_000)
    summary = {n: [1.5, 2.5] for n in NAMES}

    def _write(k: int) -> None:
        for i in range(100):
            sink.write(_record(request_id=f"{k}-{i}", input_summary=summary, input_summary_rows=2))

    threads = [threading.Thread(target=_write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "inst-1.jsonl" in files and "inst-1.1.jsonl" in files and "inst-1.2.jsonl" in files
    ids = [parse_line(line).request_id for p in tmp_path.iterdir() for line in p.read_text().splitlines()]
    assert sorted(ids) == sorted(f"{k}-{i}" for k in range(4) for i in range(100))
    assert all(p.stat().st_size <= 20_000 for p in tmp_path.iterdir())
