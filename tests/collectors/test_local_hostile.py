"""Hostile telemetry through the real local collector into a real store: generated good lines (the
reference service's own encoder) shuffled among generated bad ones, in several files. Whatever the
mix, no exception escapes, every good line is stored, every bad line is quarantined exactly once
(also when the files are read again), and memory follows the lines, not what they claim."""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.local import LocalCollector
from collectors.runner import run_one
from inferwatch.schema import Metric
from inferwatch.store import Store
from tests.collectors.preprobe_lines import InvocationRecord, ShadowOutcome, emf_document, encode_line

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
MAX_PEAK_BYTES = 64 * 2**20

names = st.sampled_from(["scorer-v1", "scorer-v2", "fraud.model_2"])
finite = st.floats(0, 1e5, allow_nan=False, allow_infinity=False)
scores = st.lists(st.floats(0, 1, allow_nan=False), max_size=20).map(tuple)
classes = st.lists(st.integers(0, 9), max_size=20).map(tuple)
good_records = st.builds(
    InvocationRecord, timestamp_ms=st.integers(T0_MS - 3_600_000, T0_MS), deployment=names,
    model_version=st.sampled_from(["v1", "v2", "2026.11+build:7"]), role=st.sampled_from(["stable", "canary",
                                                                                          "shadow"]),
    request_id=st.text(max_size=30), status=st.sampled_from(["ok", "client_error", "timeout", "degraded", "error"]),
    latency_ms=finite, cold_start=st.integers(0, 1), init_ms=finite, memory_mb=st.integers(128, 10240),
    max_memory_used_mb=finite, rows=st.integers(0, 500), scores=scores, classes=classes,
    input_summary=st.none() | st.dictionaries(st.text(max_size=12), st.lists(st.floats(-1e6, 1e6), max_size=5),
                                              max_size=4),
    error_type=st.none() | st.just("ModelLoadError"),
    shadow=st.none() | st.builds(ShadowOutcome, version=st.just("v2"), status=st.sampled_from(["ok", "error"]),
                                 scores=scores, classes=classes, agree=st.none() | st.floats(0, 1),
                                 latency_ms=st.none() | finite))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)

# A field, and values it can never take: each turns a good line into a bad one.
BREAKERS: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("Status",): st.text(max_size=30).filter(lambda s: s not in {"ok", "client_error", "timeout", "degraded", "error"})
                 | st.integers() | st.none(),
    # a one-element array is the number (EMF, and Powertools writes every value so): only other lengths break
    ("LatencyMs",): st.floats(max_value=-1e-9) | st.floats(min_value=1e8) | st.just(float("nan"))
                    | st.integers(min_value=10**9) | st.text(max_size=5)
                    | st.lists(st.integers(), max_size=3).filter(lambda xs: len(xs) != 1),
    ("Rows",): st.floats(0.1, 0.9) | st.integers(max_value=-1) | st.integers(min_value=10**6 + 1) | st.just(1e30),
    ("PredictionScore",): st.lists(st.floats(0, 1), max_size=3).map(lambda xs: [*xs, float("inf")])
                          | st.lists(st.text(max_size=3), min_size=1, max_size=3) | st.dictionaries(st.text(),
                                                                                                    st.none()),
    ("PredictedClass",): st.just([1e999]) | st.just([0.5]) | st.just([2**40]) | st.just(["1"]),
    ("Deployment",): st.text(max_size=200).filter(lambda s: not s.isascii() or any(c in s for c in "/ :\x00\\"))
                     | st.just("") | st.just("d" * 129) | st.integers(),
    ("ModelVersion",): st.just("v\x00") | st.just("v" * 65) | st.just("") | st.just("a/b") | st.none(),
    ("_aws", "Timestamp"): st.integers(T0_MS + 301_000, 2**80) | st.integers(0, T0_MS - 15 * 86_400_000)
                           | st.integers(max_value=-1) | st.floats() | st.text(max_size=5),
    ("_aws",): json_values.filter(lambda v: not isinstance(v, dict)),
}


@st.composite
def broken_line(draw: st.DrawFn) -> bytes:
    """A good line with one field set to a value it can never take."""
    doc = emf_document(draw(good_records))
    path = draw(st.sampled_from(sorted(BREAKERS)))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = draw(BREAKERS[path])
    return json.dumps(doc).encode("utf-8", "surrogatepass")


garbage = (
    st.binary(min_size=1, max_size=300).filter(lambda b: b"\n" not in b and b.strip() != b"")
    | json_values.map(lambda v: json.dumps(v).encode()).filter(lambda b: not b.startswith(b"{"))
    | st.integers(20, 200_000).map(lambda n: b"[" * n)  # deeper than any JSON parser should recurse
    | st.integers(257 * 1024, 600 * 1024).map(lambda n: b'{"pad": "' + b"x" * n + b'"}')  # longer than an EMF line
    | broken_line()
)
lines = st.lists(st.tuples(st.booleans(), st.integers(0, 2)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), lines)
def test_hostile_lines_never_stop_collection(data: st.DataObject, plan: list[tuple[bool, int]]) -> None:
    good = bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for is_good, file_index in plan:
            line = encode_line(data.draw(good_records)) if is_good else data.draw(garbage) + b"\n"
            path = home / "telemetry" / f"dep{file_index}" / f"i{file_index}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab") as handle:
                handle.write(line)
            good, bad = good + is_good, bad + (not is_good)
        store = Store.open(f"sqlite:///{home / 'store.db'}")
        collector = LocalCollector(home, [], lookback_s=3600)
        tracemalloc.start()
        try:
            first = run_one(store, collector, clock=lambda: T0)
            peak_bytes = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        again = run_one(store, collector, clock=lambda: T0 + timedelta(minutes=1))
        assert first.status != "failed" and again.status != "failed", first.error or again.error
        assert sum(p.value for p in store.load_metrics(metrics=[Metric.INVOCATIONS])) == good
        assert store.quarantine_counts().get("local", 0) == bad  # each bad line once, though read twice
        assert peak_bytes < MAX_PEAK_BYTES
        store.dispose()
