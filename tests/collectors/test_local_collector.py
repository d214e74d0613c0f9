"""The local collector on real files and a real SQLite store."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.local import LocalCollector, max_overlap, step_metrics
from collectors.local_telemetry import TelemetryLineError, parse_emf_line
from collectors.runner import run_one
from inferwatch.schema import Deployment, Metric
from inferwatch.store import Store

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DEP = Deployment(id="local:local:scorer-v1", provider="local", region="local", name="scorer-v1",
                 service="scorer", model_version="v1", memory_mb=512)


def emf(ts: datetime, *, latency: float = 5.0, status: str = "ok", cold: int = 0, rows: int = 1,
        deployment: str = "scorer-v1", prewarmed: bool = False) -> str:
    doc = {"_aws": {"Timestamp": int(ts.timestamp() * 1000), "CloudWatchMetrics": [{
        "Namespace": "Inferwatch", "Dimensions": [["Deployment"]], "Metrics": [{"Name": "LatencyMs"}]}]},
        "Deployment": deployment, "ModelVersion": "v1", "Role": "stable", "RequestId": "r",
        "Status": status, "LatencyMs": latency, "ColdStart": cold, "InitMs": 800.0 if cold else 0.0,
        "MemoryMb": 512, "MaxMemoryUsedMb": 120.0, "Rows": rows, "PredictionScore": [0.9] * rows,
        "PredictedClass": [1] * rows}
    if prewarmed:
        doc["Prewarmed"] = 1
    return json.dumps(doc) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'store.db'}")


def collector(home: Path) -> LocalCollector:
    return LocalCollector(home, [DEP], step_s=60, grace_s=30)


def total(store: Store, metric: str) -> float:
    return sum(p.value for p in store.load_metrics(metrics=[metric]))


def test_aggregates_a_step(tmp_path: Path, store: Store) -> None:
    f = tmp_path / "telemetry" / "scorer-v1" / "i1.jsonl"
    lines = [emf(T0 + timedelta(milliseconds=500 * i), latency=float(i + 1), cold=int(i == 0)) for i in range(100)]
    lines.append(emf(T0 + timedelta(seconds=50), status="timeout"))
    write(f, "".join(lines))
    run = run_one(store, collector(tmp_path), clock=lambda: T0 + timedelta(minutes=5))
    assert run.status == "ok"
    by_metric = {p.metric: p.value for p in store.load_metrics(start=T0, end=T0 + timedelta(minutes=1))}
    assert by_metric[Metric.INVOCATIONS] == 101
    assert by_metric[Metric.COLD_STARTS] == 1
    assert by_metric[Metric.TIMEOUTS] == 1
    assert by_metric[Metric.ROWS] == 100  # the timed-out request predicted nothing
    assert by_metric[Metric.LATENCY_P99] == pytest.approx(99.0, abs=1.0)
    assert by_metric[Metric.INIT_MAX] == 800.0


def test_resumes_mid_file_without_duplicates_or_gaps(tmp_path: Path, store: Store) -> None:
    f = tmp_path / "telemetry" / "scorer-v1" / "i1.jsonl"
    c = collector(tmp_path)
    expected = 0
    for minute in range(6):
        write(f, "".join(emf(T0 + timedelta(minutes=minute, seconds=s)) for s in range(0, 60, 6)))
        expected += 10
        run_one(store, c, clock=lambda m=minute: T0 + timedelta(minutes=m, seconds=45))
        run_one(store, c, clock=lambda m=minute: T0 + timedelta(minutes=m, seconds=45))  # idempotent
    run_one(store, c, clock=lambda: T0 + timedelta(minutes=10))
    assert total(store, Metric.INVOCATIONS) == expected
    assert store.count("metric_points") == len({(p.deployment, p.metric, p.start) for p in store.load_metrics()})


def test_half_written_last_line_waits_for_its_newline(tmp_path: Path, store: Store) -> None:
    f = tmp_path / "telemetry" / "scorer-v1" / "i1.jsonl"
    line = emf(T0 + timedelta(seconds=10))
    write(f, emf(T0) + line[:40])
    c = collector(tmp_path)
    run = run_one(store, c, clock=lambda: T0 + timedelta(seconds=20))
    assert not run.warnings
    write(f, line[40:])
    run_one(store, c, clock=lambda: T0 + timedelta(minutes=3))
    assert total(store, Metric.INVOCATIONS) == 2


def test_rotation_keeps_the_offset_of_the_renamed_file(tmp_path: Path, store: Store) -> None:
    d = tmp_path / "telemetry" / "scorer-v1"
    write(d / "i1.jsonl", "".join(emf(T0 + timedelta(seconds=s)) for s in range(5)))
    c = collector(tmp_path)
    run_one(store, c, clock=lambda: T0 + timedelta(seconds=20))
    write(d / "i1.jsonl", emf(T0 + timedelta(seconds=7)))
    os.rename(d / "i1.jsonl", d / "i1.1.jsonl")
    write(d / "i1.jsonl", emf(T0 + timedelta(seconds=9)))
    run_one(store, c, clock=lambda: T0 + timedelta(minutes=3))
    assert total(store, Metric.INVOCATIONS) == 7


def test_malformed_lines_are_quarantined_once(tmp_path: Path, store: Store) -> None:
    f = tmp_path / "telemetry" / "scorer-v1" / "i1.jsonl"
    write(f, emf(T0) + "not json\n" + '{"_aws": {"Timestamp": 1}, "Status": "weird"}\n' + emf(T0))
    c = collector(tmp_path)
    run = run_one(store, c, clock=lambda: T0 + timedelta(seconds=50))
    assert run.status == "partial"
    assert run.warnings[0].startswith("2 telemetry lines quarantined")
    run_one(store, c, clock=lambda: T0 + timedelta(minutes=3))  # re-reads the open step: no second count
    assert total(store, Metric.INVOCATIONS) == 2
    assert store.quarantine_counts() == {"local": 2}
    entries = sorted(store.load_quarantine(), key=lambda e: e.position)
    assert [(e.source, e.position) for e in entries] == [(str(f), len(emf(T0))), (str(f), len(emf(T0)) + 9)]
    assert entries[0].reason.startswith("not JSON") and "Status" in entries[1].reason


def test_idle_closed_steps_are_written_as_zero_traffic(tmp_path: Path, store: Store) -> None:
    write(tmp_path / "telemetry" / "scorer-v1" / "i1.jsonl", emf(T0))
    c = collector(tmp_path)
    run_one(store, c, clock=lambda: T0 + timedelta(seconds=70))
    run_one(store, c, clock=lambda: T0 + timedelta(minutes=5))
    inv = {p.start: p.value for p in store.load_metrics(metrics=[Metric.INVOCATIONS])}
    assert inv[T0] == 1 and inv[T0 + timedelta(minutes=2)] == 0


@pytest.mark.parametrize("field,value", [("Status", "exploded"), ("LatencyMs", -1), ("LatencyMs", "fast"),
                                         ("Deployment", ""), ("PredictionScore", ["x"])])
def test_parser_names_the_bad_field(field: str, value: object) -> None:
    doc = json.loads(emf(T0))
    doc[field] = value
    with pytest.raises(TelemetryLineError) as info:
        parse_emf_line(json.dumps(doc))
    assert info.value.field == field


def test_max_overlap_counts_requests_in_flight() -> None:
    recs = [parse_emf_line(emf(T0 + timedelta(milliseconds=ms), latency=lat)) for ms, lat in
            [(0, 100), (10, 100), (20, 5), (150, 10)]]
    assert max_overlap(recs) == 3
    assert step_metrics(recs, 1)[Metric.CONCURRENCY_MAX] == 3


def test_warm_instances_become_provisioned_concurrency_metrics(tmp_path: Path, store: Store) -> None:
    """Two warm instances of two request slots each: the most in flight on them over 4 slots is the
    utilisation, invocations served on demand spilled over, and an idle step still holds the capacity."""
    warm = Deployment(id="local:local:warm", provider="local", region="local", name="warm", service="warm",
                      memory_mb=512, concurrency=2, min_instances=2)
    d = tmp_path / "telemetry" / "warm"
    # three overlapping requests on the warm instances, then two on an instance started on demand
    write(d / "w1.jsonl", "".join(emf(T0 + timedelta(milliseconds=ms), latency=100.0, deployment="warm",
                                      prewarmed=True) for ms in (0, 10, 20)))
    write(d / "o1.jsonl", emf(T0 + timedelta(milliseconds=30), latency=100.0, deployment="warm", cold=1)
          + emf(T0 + timedelta(seconds=5), deployment="warm"))
    c = LocalCollector(tmp_path, [warm, DEP], step_s=60, grace_s=30)
    run_one(store, c, clock=lambda: T0 + timedelta(seconds=70))
    run_one(store, c, clock=lambda: T0 + timedelta(minutes=3))

    def at(minute: int) -> dict[str, float]:
        start = T0 + timedelta(minutes=minute)
        return {p.metric: p.value for p in store.load_metrics(deployments=[warm.id], start=start,
                                                              end=start + timedelta(minutes=1))}

    busy, idle = at(0), at(1)
    assert busy[Metric.PROVISIONED_CONCURRENCY] == 2 and busy[Metric.PROVISIONED_UTILIZATION] == 0.75
    assert busy[Metric.PROVISIONED_SPILLOVER] == 2 and busy[Metric.INVOCATIONS] == 5
    assert idle[Metric.PROVISIONED_CONCURRENCY] == 2 and idle[Metric.PROVISIONED_UTILIZATION] == 0
    assert idle[Metric.INVOCATIONS] == 0 and idle[Metric.PROVISIONED_SPILLOVER] == 0
    # a deployment without warm instances reports none of these
    assert not [p for p in store.load_metrics(deployments=[DEP.id]) if p.metric.startswith("provisioned")]


def test_histograms_are_counts_over_the_model_baseline(tmp_path: Path, store: Store) -> None:
    from drift import WindowCounts
    from inferwatch.schema import ModelKey
    from readmodels.baselines import baseline_for
    from shell.reference_baselines import ensure_model_baselines

    ensure_model_baselines(store, [ModelKey(DEP.service, "v1")])
    f = tmp_path / "telemetry" / "scorer-v1" / "i1.jsonl"
    write(f, "".join(emf(T0 + timedelta(seconds=s), rows=3) for s in range(20)))
    c = LocalCollector(tmp_path, [DEP], step_s=60, grace_s=30,
                       baselines=lambda key: baseline_for(store, key))
    run_one(store, c, clock=lambda: T0 + timedelta(minutes=3))
    hist = {h.signal: WindowCounts.from_dict(h.counts) for h in store.load_histograms()}
    assert set(hist) == {"score", "class"}
    assert int(hist["score"].counts.sum()) == 60 and int(hist["class"].counts.sum()) == 60
