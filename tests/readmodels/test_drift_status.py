"""Drift decided once per collection round and kept: what the overview and the Drift page's fleet
table read, current only within the decision's own lookback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from readmodels.drift_status import load_recorded_drift, record_drift
from readmodels.overview import build_overview
from shell.runtime import Runtime
from tests.dashboard.test_drift_page import DEP, fill_shifted


def test_recorded_decisions_are_what_the_overview_shows_until_they_age_out(home: Path) -> None:
    store, now = fill_shifted(home)
    settings = Runtime.from_env().settings
    assert load_recorded_drift(store, now) == {}
    assert build_overview(store, settings, now)[0].drift_status == "no_data"  # nothing decided yet

    live = record_drift(store, now, window_s=900, n_windows=3)
    recorded = load_recorded_drift(store, now)
    assert set(recorded) == {DEP}
    assert recorded[DEP].status == live.decided[DEP].report.status.value == "drift"
    distribution = live.decided[DEP].report.result("feature:mean radius").to_dict()
    assert recorded[DEP].signals[0]["signal"] == "feature:mean radius"  # the worst (effect over threshold) first
    assert {k: distribution[k] for k in ("signal", "check", "statistic", "effect", "threshold", "status")} \
        in recorded[DEP].signals
    assert {s["status"] for s in recorded[DEP].signals} <= {"warn", "drift"}
    row = build_overview(store, settings, now)[0]
    assert row.drift_status == "drift" and "drifted" in row.reasons

    record_drift(store, now + timedelta(minutes=1))  # the next round replaces the decision
    assert store.count("drift_statuses") == 1
    assert load_recorded_drift(store, now + timedelta(minutes=1))[DEP].evaluated_at == now + timedelta(minutes=1)
    stale = now + timedelta(minutes=1, seconds=3 * 900 + 1)  # older than its own lookback: says nothing now
    assert load_recorded_drift(store, stale) == {}
    assert build_overview(store, settings, stale)[0].drift_status == "no_data"
