"""`latest_status` aggregates in the store; these check it against the same numbers computed in
Python from the raw points, with gaps, idle steps and a deployment without traffic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from inferwatch.schema import CollectionBatch, CollectionRun, Deployment, Metric, MetricPoint
from inferwatch.store import Store, StoreInputError
from readmodels.status import latest_status

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PERCENTILES = (Metric.LATENCY_P50, Metric.LATENCY_P95, Metric.LATENCY_P99)
SUMMED = (Metric.INVOCATIONS, Metric.ROWS, Metric.SERVER_ERRORS, Metric.TIMEOUTS, Metric.DEGRADED,
          Metric.COLD_STARTS)


def _deployment(i: int) -> Deployment:
    return Deployment(f"aws:eu-west-1:fn-{i}", "aws", "eu-west-1", f"fn-{i}", f"svc-{i}", model_version="v1")


def _fill(store: Store, rng: np.random.Generator) -> list[MetricPoint]:
    points = []
    for i in range(3):
        dep = _deployment(i)
        for minute in range(-40, 2):  # some steps before the window, one at "now"
            start = NOW + timedelta(minutes=minute)
            if i == 2 or rng.random() < 0.15:  # fn-2 never has traffic; others have gaps
                continue
            inv = float(rng.integers(0, 20))  # idle steps (0 invocations) carry no latency weight
            points.append(MetricPoint(dep.id, Metric.INVOCATIONS, start, 60, inv))
            for m in SUMMED[1:]:
                points.append(MetricPoint(dep.id, m, start, 60, float(rng.integers(0, 3))))
            for m in PERCENTILES:
                if rng.random() < 0.9:  # a percentile can be missing in a step
                    points.append(MetricPoint(dep.id, m, start, 60, float(rng.gamma(3, 10))))
        points.append(MetricPoint(dep.id, Metric.LATENCY_P99, NOW - timedelta(minutes=5), 300, 999.0))  # other step
    store.write_batch(CollectionBatch("t", tuple(_deployment(i) for i in range(3)), tuple(points)),
                      CollectionRun(uuid.uuid4().hex, "t", NOW, NOW, "ok"))
    return points


def test_latest_status_matches_the_raw_points(store_url: str) -> None:
    store = Store.open(store_url)
    points = _fill(store, np.random.default_rng(7))
    window_s = 900
    lo, hi = NOW - timedelta(seconds=window_s), NOW + timedelta(seconds=60)
    steps: dict[tuple[str, datetime], dict[str, float]] = {}
    for p in points:
        if p.step_s == 60 and lo <= p.start < hi:
            steps.setdefault((p.deployment, p.start), {})[p.metric] = p.value
    got = {s.deployment: s for s in latest_status(store, NOW, window_s=window_s)}
    assert set(got) == {_deployment(i).id for i in range(3)}
    for dep, status in got.items():
        mine = {start: v for (d, start), v in steps.items() if d == dep}
        n = sum(v.get(Metric.INVOCATIONS, 0) for v in mine.values())
        assert status.invocations == n
        assert status.predictions == sum(v.get(Metric.ROWS, 0) for v in mine.values())
        bad = sum(v.get(m, 0) for v in mine.values() for m in (Metric.SERVER_ERRORS, Metric.TIMEOUTS, Metric.DEGRADED))
        assert status.error_rate == (pytest.approx(bad / n) if n else None)
        cold = sum(v.get(Metric.COLD_STARTS, 0) for v in mine.values())
        assert status.cold_starts == cold
        for metric, value in zip(PERCENTILES, (status.p50_ms, status.p95_ms, status.p99_ms), strict=True):
            pairs = [(v[metric], v[Metric.INVOCATIONS]) for v in mine.values()
                     if metric in v and v.get(Metric.INVOCATIONS, 0) > 0]
            weight = sum(w for _, w in pairs)
            assert value == (pytest.approx(sum(x * w for x, w in pairs) / weight) if weight else None)
        busy = [start for start, v in mine.items() if v.get(Metric.INVOCATIONS, 0) > 0]
        assert status.last_seen == (max(busy) if busy else None)
    idle = got[_deployment(2).id]
    assert (idle.invocations, idle.p99_ms, idle.error_rate, idle.last_seen) == (0, None, None, None)


def test_window_aggregates_refuse_a_backwards_window(store_url: str) -> None:
    with pytest.raises(StoreInputError, match="before start"):
        Store.open(store_url).window_aggregates(metrics=[Metric.INVOCATIONS], weight=Metric.INVOCATIONS,
                                                start=NOW, end=NOW - timedelta(minutes=1))
