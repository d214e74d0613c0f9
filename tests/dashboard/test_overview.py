"""The overview page under Streamlit's AppTest, on an empty store and on a filled one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from inferwatch.config import Settings
from inferwatch.schema import CollectionBatch, CollectionRun, Deployment, Metric, MetricPoint, floor_time
from inferwatch.store import Store
from readmodels.overview import record_window_numbers
from tests.dashboard.status_html import read_status_table

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def fill(home: Path, p99_ms: float = 20) -> None:
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    now = floor_time(datetime.now(UTC), 60)
    dep = Deployment(id="local:local:scorer-v1", provider="local", region="local", name="scorer-v1",
                     service="scorer", model_version="v1")
    points = []
    for i in range(10):
        t = now - timedelta(minutes=i)
        points += [MetricPoint(dep.id, Metric.INVOCATIONS, t, 60, 100), MetricPoint(dep.id, Metric.LATENCY_P50, t, 60,
                                                                                    4),
                   MetricPoint(dep.id, Metric.LATENCY_P95, t, 60, 9), MetricPoint(dep.id, Metric.LATENCY_P99, t, 60,
                                                                                  p99_ms),
                   MetricPoint(dep.id, Metric.COLD_STARTS, t, 60, 1)]
    store.write_batch(CollectionBatch("local", (dep,), tuple(points)),
                      CollectionRun("r", "local", now, now, "ok"))


def test_overview_on_an_empty_store_says_what_to_do(home: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert any("inferwatch demo" in info.value for info in at.info)


def test_overview_shows_each_deployment_with_numbers_and_a_chart(home: Path) -> None:
    fill(home)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    row = read_status_table(at.html[0].value)["local:local:scorer-v1"]
    assert row.cells["p99 vs SLO"].startswith("20.0 ms SLO 250 ms")
    assert row.cells["invocations"] == "1,000"
    assert row.cells["status"] == "ok" and row.flags["status"] == "ok"
    assert {m.label: m.value for m in at.metric}["invocations"] == "1,000"
    # Trends are sparklines in each row (the landing page loads no chart library): over the picked
    # range (1 h by default) at one point per minute; ten minutes of data fill the last sixth of it.
    assert row.sparklines == ["p99, 1h: last 20.0 ms, peak 20.0 ms, 10 points",
                              "invocations per step, 1h: last 100, peak 100, 10 points"]
    first_x = float(row.outlines[0].split(",")[1].split("%")[0])
    assert 80 < first_x < 86
    # The name opens the Deployment page on this deployment.
    assert row.links == ["deployment?d=local%3Alocal%3Ascorer-v1"]
    assert not at.get("plotly_chart") and not at.dataframe
    assert any("trends the picked range (1h, one point per 1 min)" in c.value for c in at.caption)


def test_overview_shows_the_numbers_the_latest_collection_kept_while_they_are_current(home: Path) -> None:
    fill(home)
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    kept_at = datetime.now(UTC)
    record_window_numbers(store, Settings(), kept_at)  # what the collection round does
    fill(home, p99_ms=40)  # newer data the next round will keep
    at = AppTest.from_file(APP, default_timeout=60).run()
    row = read_status_table(at.html[0].value)["local:local:scorer-v1"]
    assert row.cells["p99 vs SLO"].startswith("20.0 ms")
    assert any(f"Numbers cover the 1 h to {kept_at:%H:%M:%S} UTC" in c.value for c in at.caption)

    record_window_numbers(store, Settings(), kept_at - timedelta(minutes=10))  # collection stopped since
    st.cache_data.clear()  # what its 15 s time-to-live does between two page loads
    at = AppTest.from_file(APP, default_timeout=60).run()
    row = read_status_table(at.html[0].value)["local:local:scorer-v1"]
    assert row.cells["p99 vs SLO"].startswith("40.0 ms")  # computed live


@pytest.mark.parametrize("max_points", [60, 1500])
def test_every_range_gets_close_to_its_point_budget_from_points_or_rollups(max_points: int) -> None:
    """Charts ask for at most ``max_points`` per series; the step picked for each range uses a good
    part of that budget, and is either at most 15 minutes (read from the points) or whole hours
    (from the rollups): a month is never read minute by minute."""
    from dashboard.data import resolution_for
    from dashboard.filters import RANGES

    for label, range_s in RANGES.items():
        step = resolution_for(range_s, max_points)
        points = range_s / step
        assert points <= max_points, label
        assert step == 60 or points >= max_points / 3, (label, step)
        assert (3600 % step == 0 and step <= 900) if step < 3600 else step % 3600 == 0, (label, step)


@pytest.mark.parametrize(("range_s", "minutes_ago"), [(86400, 0), (7 * 86400, 23), (30 * 86400, 71), (3600, 7)])
def test_long_trends_read_in_parts_equal_one_read(tmp_path: Path, range_s: int, minutes_ago: int) -> None:
    """Sparklines of long ranges take their whole past buckets from a cache and read only the partial
    buckets at either end: the rows are exactly those of one read over the range."""
    from dashboard.data import resolution_for, time_window, trend_rows

    url = f"sqlite:///{tmp_path / 'inferwatch.db'}"
    store = Store.open(url)
    at = int(floor_time(datetime.now(UTC), 60).timestamp()) - 60 * minutes_ago
    dep = Deployment(id="aws:us-east-1:fn", provider="aws", region="us-east-1", name="fn", service="s")
    rng = np.random.default_rng(range_s)
    minutes = range(-min(range_s, 3 * 86400) // 60 - 90, 2, 7)  # every 7 min: partial hours everywhere
    points = tuple(MetricPoint(dep.id, metric, datetime.fromtimestamp(at + 60 * m, tz=UTC), 60, float(v))
                   for m in minutes for metric, v in ((Metric.INVOCATIONS, rng.poisson(30)),
                                                      (Metric.LATENCY_P99, rng.gamma(4, 5))))
    store.write_batch(CollectionBatch("t", (dep,), points), CollectionRun("r", "t", datetime.now(UTC),
                                                                          datetime.now(UTC), "ok"))
    start, end = time_window(range_s, at)
    step = resolution_for(range_s, 60)
    metrics = (Metric.INVOCATIONS.value, Metric.LATENCY_P99.value)
    parts = trend_rows(url, (dep.id,), metrics, start, end, step)
    whole = store.metric_rows(deployments=[dep.id], metrics=list(metrics), start=start, end=end, resolution_s=step)
    assert len(parts) == len(whole) > 10
    assert {row[:3]: row[3] for row in parts} == pytest.approx({row[:3]: row[3] for row in whole})
