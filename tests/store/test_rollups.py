"""Rollups (sum / max / mean per AGGREGATION) equal a pandas computation over the raw points, whether
they come from the hourly rollup table, the raw points, or both (partial hours at the edges)."""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferwatch.schema import AGGREGATION, Aggregation, CollectionBatch, CollectionRun, Metric, MetricPoint
from inferwatch.store import Store
from inferwatch.store import tables as t

T0 = datetime(2026, 3, 2, tzinfo=UTC)
METRICS = [Metric.INVOCATIONS.value, Metric.LATENCY_P95.value, Metric.LATENCY_P50.value, "custom_score"]


def _run() -> CollectionRun:
    return CollectionRun(uuid.uuid4().hex, "test", T0, T0, "ok")


def _random_points(seed: int, minutes: int, deployments: int = 3, keep: float = 0.8) -> list[MetricPoint]:
    rng = np.random.default_rng(seed)
    points = []
    for d in range(deployments):
        for metric in METRICS:
            for minute in np.flatnonzero(rng.random(minutes) < keep):
                points.append(MetricPoint(f"local:test:m{d}", metric, T0 + timedelta(minutes=int(minute)), 60,
                                          float(np.round(rng.gamma(2.0, 50.0), 3))))
    return points


def expected_rollup(points: list[MetricPoint], resolution_s: int, start: datetime | None,
                    end: datetime | None) -> dict[tuple[str, str, datetime], float]:
    frame = pd.DataFrame({"deployment": [p.deployment for p in points], "metric": [p.metric for p in points],
                          "ts": [int(p.start.timestamp()) for p in points], "value": [p.value for p in points]})
    if start is not None:
        frame = frame[frame.ts >= int(start.timestamp())]
    if end is not None:
        frame = frame[frame.ts < int(end.timestamp())]
    frame = frame.assign(bucket=frame.ts - frame.ts % resolution_s)
    out = {}
    for key, group in frame.groupby(["deployment", "metric", "bucket"]):
        dep, metric, bucket = (str(k) for k in key)
        aggregation = AGGREGATION.get(Metric(metric)) if metric in set(Metric) else None
        how = {Aggregation.SUM: "sum", Aggregation.MAX: "max"}.get(aggregation, "mean")  # type: ignore[arg-type]
        out[(dep, metric, datetime.fromtimestamp(int(bucket), tz=UTC))] = float(group.value.agg(how))
    return out


def as_dict(points: list[MetricPoint]) -> dict[tuple[str, str, datetime], float]:
    return {(p.deployment, p.metric, p.start): p.value for p in points}


def assert_same(got: dict[tuple[str, str, datetime], float], want: dict[tuple[str, str, datetime], float]) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-6), key


@pytest.fixture
def filled(store_url: str) -> tuple[Store, list[MetricPoint]]:
    store = Store.open(store_url)
    points = _random_points(seed=7, minutes=4 * 60 + 13)
    # Two runs, the second re-writing an overlapping window with new values: rollups follow the points.
    first, second = points[: len(points) // 2], points[len(points) // 3:]
    store.write_batch(CollectionBatch("test", points=tuple(p.__class__(p.deployment, p.metric, p.start, 60, -1.0)
                                                           for p in first)), _run())
    store.write_batch(CollectionBatch("test", points=tuple(first)), _run())
    store.write_batch(CollectionBatch("test", points=tuple(second)), _run())
    return store, points


CASES = [
    (3600, 17, 3 * 60 + 41),  # partial hours at both edges
    (3600, None, None),
    (3600, 60, 180),  # whole hours only: all from the rollup table
    (3600, 70, 95),  # inside one hour: raw only
    (7200, 5, None),
    (86400, None, 200),
    (900, 13, 229),  # not a multiple of an hour: raw rollup
    (120, None, None),
]


def test_rollup_equals_pandas(filled: tuple[Store, list[MetricPoint]]) -> None:
    store, points = filled
    for resolution_s, start_min, end_min in CASES:
        start = T0 + timedelta(minutes=start_min) if start_min is not None else None
        end = T0 + timedelta(minutes=end_min) if end_min is not None else None
        want = expected_rollup(points, resolution_s, start, end)
        assert want
        for use_rollups in (True, False):
            got = store.load_metrics(start=start, end=end, resolution_s=resolution_s, use_rollups=use_rollups)
            assert {p.step_s for p in got} == {resolution_s}
            assert_same(as_dict(got), want)


def test_metric_rows_are_load_metrics_without_point_objects(filled: tuple[Store, list[MetricPoint]]) -> None:
    """The plain rows the dashboard and the cost sums read: same values as the points, rolled-up
    rows sorted by deployment, metric and time (the edges' partial hours merged in the database)."""
    store, _ = filled
    for resolution_s, start_min, end_min in CASES:
        span = {"start": T0 + timedelta(minutes=start_min) if start_min is not None else None,
                "end": T0 + timedelta(minutes=end_min) if end_min is not None else None}
        rows = store.metric_rows(resolution_s=resolution_s, **span)
        points = store.load_metrics(resolution_s=resolution_s, **span)
        assert rows == [(p.deployment, p.metric, int(p.start.timestamp()), p.value) for p in points]
        assert rows == sorted(rows)
        assert all(type(ts) is int and type(value) is float for _, _, ts, value in rows)
    raw = store.metric_rows(deployments=["local:test:m0"], metrics=["custom_score"])
    assert sorted(raw) == sorted((p.deployment, p.metric, int(p.start.timestamp()), p.value)
                                 for p in store.load_metrics(deployments=["local:test:m0"], metrics=["custom_score"]))


def test_filters_and_raw_points(filled: tuple[Store, list[MetricPoint]]) -> None:
    store, points = filled
    deps, metrics = ["local:test:m1"], [Metric.LATENCY_P95.value, "custom_score"]
    chosen = [p for p in points if p.deployment in deps and p.metric in metrics]
    got = store.load_metrics(deployments=deps, metrics=metrics, start=T0 + timedelta(minutes=9),
                             end=T0 + timedelta(hours=3, minutes=1), resolution_s=3600)
    assert_same(as_dict(got), expected_rollup(chosen, 3600, T0 + timedelta(minutes=9),
                                              T0 + timedelta(hours=3, minutes=1)))
    raw = store.load_metrics(deployments=deps, metrics=metrics)
    assert as_dict(raw) == {(p.deployment, p.metric, p.start): p.value for p in chosen}
    assert store.load_metrics(deployments=[], resolution_s=3600) == []
    assert store.load_metrics(step_s=300) == []


def test_rebuild_and_backfill_of_a_store_without_rollups(filled: tuple[Store, list[MetricPoint]],
                                                          store_url: str) -> None:
    store, points = filled
    want = expected_rollup(points, 3600, None, None)
    with store.write() as conn:
        conn.execute(t.metric_rollups.delete())
    assert store.load_metrics(resolution_s=3600, start=T0, end=T0 + timedelta(hours=4)) == []
    store.rebuild_rollups()
    assert_same(as_dict(store.load_metrics(resolution_s=3600)), want)
    # A store written before the rollup table existed gets it filled when next opened.
    with store.write() as conn:
        t.metric_rollups.drop(conn)
    store.dispose()
    reopened = Store.open(store_url)
    assert_same(as_dict(reopened.load_metrics(resolution_s=3600)), want)
    reopened.dispose()


def test_rollups_from_an_earlier_sqlite_store_move_to_the_clustered_table(tmp_path: Path) -> None:
    """Earlier versions kept rollups in a rowid table; opening such a store copies them, once, into
    the table stored in key order, and every rollup reads back the same."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store.open(url)
    points = _random_points(7, 300)
    store.write_batch(CollectionBatch("p", points=tuple(points)), _run())
    columns = ", ".join(c.name for c in t.metric_rollups.columns)
    with store.write() as conn:  # the earlier layout: same columns and key, rowid table
        conn.exec_driver_sql("DROP INDEX ix_metric_rollups_step_ts")
        conn.exec_driver_sql("ALTER TABLE metric_rollups RENAME TO current_rollups")
        conn.exec_driver_sql("CREATE TABLE metric_rollups (deployment_id VARCHAR(300) NOT NULL, metric VARCHAR(64) "
                             "NOT NULL, step_s INTEGER NOT NULL, ts BIGINT NOT NULL, value_sum FLOAT NOT NULL, "
                             "value_max FLOAT NOT NULL, sample_count INTEGER NOT NULL, "
                             "PRIMARY KEY (deployment_id, metric, step_s, ts))")
        conn.exec_driver_sql("CREATE INDEX ix_metric_rollups_step_ts ON metric_rollups (step_s, ts)")
        conn.exec_driver_sql(f"INSERT INTO metric_rollups ({columns}) SELECT {columns} FROM current_rollups")
        conn.exec_driver_sql("DROP TABLE current_rollups")
    rollups = store.count("metric_rollups")
    assert rollups > 0
    store.dispose()

    for _ in range(2):  # the second open finds nothing to do
        store = Store.open(url)
        with store.read() as conn:
            made = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'metric_rollups'").scalar()
            indexes = {r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'metric_rollups'")}
        assert "WITHOUT ROWID" in made.upper()
        assert "ix_metric_rollups_step_ts" in indexes
        assert store.count("metric_rollups") == rollups
        assert_same(as_dict(store.load_metrics(resolution_s=3600)), expected_rollup(points, 3600, None, None))
        store.dispose()


point_sets = st.lists(
    st.tuples(st.sampled_from(["local:a:x", "local:a:y"]), st.sampled_from(METRICS), st.integers(0, 400),
              st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)),
    min_size=1, max_size=60)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(point_sets, st.sampled_from([120, 600, 3600, 7200]), st.integers(0, 400), st.integers(0, 400))
def test_rollup_property_any_points_any_range(rows: list[tuple[str, str, int, float]], resolution_s: int,
                                              a: int, b: int) -> None:
    points = list({(d, m, minute): MetricPoint(d, m, T0 + timedelta(minutes=minute), 60, v)
                   for d, m, minute, v in rows}.values())
    start, end = T0 + timedelta(minutes=min(a, b)), T0 + timedelta(minutes=max(a, b))
    with tempfile.TemporaryDirectory() as home:
        store = Store.open(f"sqlite:///{Path(home) / 'p.db'}")
        store.write_batch(CollectionBatch("p", points=tuple(points)), _run())
        want = expected_rollup(points, resolution_s, start, end)
        for use_rollups in (True, False):
            got = store.load_metrics(start=start, end=end, resolution_s=resolution_s, use_rollups=use_rollups)
            assert_same(as_dict(got), want)
            assert all(np.isfinite(p.value) for p in got)
        store.dispose()
