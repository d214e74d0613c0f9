"""What the exporter serves: the figures a round keeps (checked against the points written), the
exposition built from kept numbers on both backends, the drift-signal bound, the advice cadence, and
parts that cannot be read costing only themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from inferwatch.config import Settings
from inferwatch.schema import floor_time
from inferwatch.store import KeptFigures, Store
from readmodels.exposition import load_exposition
from readmodels.exposition_kept import (
    ADVICE_REFRESH_S,
    ADVICE_TOPIC,
    CAUSES,
    WINDOW_TOPIC,
    advice_due,
    window_figures,
)
from tests.shell.exposition_store import AWS, DEPLOYMENTS, FAILING, FAILING_COLLECTOR, HEALTHY, TRAFFIC, fill

NOW = floor_time(datetime(2026, 12, 7, 12, 0, tzinfo=UTC), 60)


def test_window_figures_are_the_sums_of_the_points(tmp_path: Path) -> None:
    filled = fill(tmp_path, NOW)
    store = Store.open(filled.url)
    kept = window_figures(store, store.load_deployments(), NOW)
    steps = 15  # the 15 one-minute steps of the window
    for d in DEPLOYMENTS:
        inv, _, server, timeouts, degraded, client, oom, throttles, _, conc = TRAFFIC[d.id]
        figures = kept.figures[d.id]
        assert [figures[f"{c}_count"] for c in CAUSES] == [steps * n for n in (server, timeouts, degraded, client, oom)]
        assert figures["throttles_count"] == steps * throttles and figures["concurrency_max"] == conc
    assert kept.figures[HEALTHY.id]["warm_capacity"] == 2 and kept.figures[HEALTHY.id]["warm_utilization_ratio"] == 0.25
    assert kept.figures[AWS.id]["warm_capacity"] == 4
    assert kept.figures[AWS.id]["warm_utilization_ratio"] == pytest.approx(0.1)
    assert kept.figures[FAILING.id]["slo_p99_ms"] == 200 and "slo_p99_ms" not in kept.figures[HEALTHY.id]
    assert (kept.topic, kept.start, kept.end) == (WINDOW_TOPIC, NOW - timedelta(minutes=15), NOW)


def test_kept_figures_round_trip_and_replace(store_url: str) -> None:
    store = Store.open(store_url)
    first = KeptFigures("window_900", NOW, NOW - timedelta(minutes=15), NOW, {"a:b:c": {"x_count": 1.0}})
    store.save_kept_figures([first, KeptFigures("advice", NOW, NOW - timedelta(days=7), NOW, {})])
    store.save_kept_figures([first._replace(computed_at=NOW + timedelta(minutes=1), figures={"a:b:c": {"x_count": 2}})])
    kept = store.load_kept_figures(["window_900", "advice", "quality"])
    assert sorted(kept) == ["advice", "window_900"]
    assert kept["window_900"].figures == {"a:b:c": {"x_count": 2.0}}
    assert kept["window_900"].computed_at == NOW + timedelta(minutes=1) and kept["advice"].figures == {}


def test_the_exposition_on_both_backends(store_url: str, tmp_path: Path) -> None:
    filled = fill(tmp_path, NOW, url=store_url)
    exp = load_exposition(Store.open(store_url), Settings(), NOW + timedelta(seconds=30), drift_signals=2)
    assert exp.unavailable == {} and exp.store_up
    by_id = {d.deployment: d for d in exp.deployments}
    assert sorted(by_id) == sorted(d.id for d in DEPLOYMENTS)
    failing = by_id[FAILING.id]
    assert (failing.provider, failing.region, failing.service, failing.model_version, failing.role) == (
        "local", "local", "scorer", "v2", "canary")
    assert failing.health == "bad" and failing.drift_status == "drift" and failing.slo_p99_ms == 200
    assert [s.signal for s in failing.drift_signals] == ["feature:f0", "feature:f1"] and failing.drift_flagged == 5
    assert failing.error_rate == pytest.approx((6 + 2 + 1) / 50)
    assert failing.firing_alerts == sum(a.entity == FAILING.id and a.state == "firing" for a in exp.alerts) >= 3
    assert failing.cost_per_hour_usd is not None and failing.cost_per_hour_usd > 0
    assert by_id[AWS.id].advice_savings_usd["warm_capacity"] > 0 and failing.quality == {}
    assert {s.collector: s.state for s in exp.sources}[FAILING_COLLECTOR] == "failing"
    assert set(exp.as_of) == {"window", WINDOW_TOPIC, ADVICE_TOPIC, "alert_job"}
    assert filled.now == NOW


def test_advice_is_refreshed_every_fifteen_minutes(tmp_path: Path) -> None:
    filled = fill(tmp_path, NOW)
    store = Store.open(filled.url)
    assert not advice_due(store, NOW + timedelta(seconds=ADVICE_REFRESH_S - 1))
    assert advice_due(store, NOW + timedelta(seconds=ADVICE_REFRESH_S))
    store.dispose()
    assert advice_due(Store.open(f"sqlite:///{tmp_path / 'empty.db'}"), NOW)


def test_a_corrupt_kept_row_costs_its_part_only(tmp_path: Path) -> None:
    filled = fill(tmp_path, NOW)
    engine = create_engine(filled.url, poolclass=NullPool)
    with engine.begin() as conn:  # statuses of a shape no version wrote
        conn.execute(text("""UPDATE kept_windows SET statuses = '[{"deployment": 1, "surprise": true}]'"""))
    engine.dispose()
    exp = load_exposition(Store.open(filled.url), Settings(), NOW)
    assert set(exp.unavailable) == {"window"} and exp.store_up
    assert exp.deployments == () and exp.alerts and exp.sources  # the other parts are still served
