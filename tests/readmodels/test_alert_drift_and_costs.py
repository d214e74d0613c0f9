"""The drift and cost rules on real inputs: a baseline and drifted histograms in the store, costly
Lambda traffic priced by costs/, and drift that cannot be decided, which puts the drift rule in Error."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from drift.baseline import Baseline, build_baseline
from drift.window import WindowCounts
from inferwatch.errors import ConfigError
from inferwatch.schema import CollectionBatch, CollectionRun, Deployment, HistogramPoint, MetricPoint
from inferwatch.store import Store
from shell.alert_job import EXIT_OK, EXIT_PARTIAL, run_once
from tests.alerts.builders import DEP, T0, Clock, fill_store, runtime

COSTLY = Deployment(id="aws:eu-west-1:big", provider="aws", region="eu-west-1", name="big", service="big",
                    memory_mb=10_240)
CHEAP = Deployment(id="aws:eu-west-1:small", provider="aws", region="eu-west-1", name="small", service="small",
                   memory_mb=128)


def firing(store: Store) -> set[tuple[str, str]]:
    return {(s.rule, s.entity) for s in store.load_alert_states().values() if s.state == "firing"}


def write_histograms(store: Store, shift: float, bins_of: Baseline | None = None) -> None:
    """45 minutes of score counts against a saved baseline (counted over ``bins_of``'s bins if given)."""
    rng = np.random.default_rng(11)
    baseline = build_baseline({"score": rng.beta(5, 2, 20_000)}, categorical=(), model_sha256="0" * 64, version="v1")
    bid = f"v1-{uuid.uuid4().hex[:8]}"
    store.save_baseline(bid, service=DEP.service, model_version="v1", model_sha256="0" * 64, source="test",
                        payload=baseline.to_dict(), created_at=T0 - timedelta(days=1))
    column = (bins_of or baseline).column("score")
    hist = [HistogramPoint(DEP.id, "score", T0 - timedelta(minutes=m), 60, bid,
                           WindowCounts.from_values(column, np.clip(rng.beta(5, 2, 400) - shift, 0, 1)).to_dict())
            for m in range(1, 46)]
    run = CollectionRun(uuid.uuid4().hex, "local", T0, T0, "ok")
    store.write_batch(CollectionBatch("local", deployments=(DEP,), histograms=tuple(hist)), run)


def test_drifted_scores_fire_the_drift_rule(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    store = rt.open_store()
    write_histograms(store, shift=0.3)
    assert run_once(rt, clock=Clock(T0)).exit_code == EXIT_OK
    assert ("PredictionDrift", DEP.id) in firing(store)
    (state,) = [s for s in store.load_alert_states().values() if s.rule == "PredictionDrift"]
    assert state.summary == (f"{DEP.id}: prediction or input distribution drifted from the baseline "
                             "(score, score:out_of_range)")


def test_undrifted_scores_stay_quiet(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    store = rt.open_store()
    write_histograms(store, shift=0.0)
    assert run_once(rt, clock=Clock(T0)).exit_code == EXIT_OK
    assert not any(rule == "PredictionDrift" for rule, _ in firing(store))


def test_drift_that_cannot_be_decided_puts_the_rule_in_error_and_exit_1(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    store = rt.open_store()
    write_histograms(store, shift=0.0, bins_of=build_baseline({"score": np.linspace(0, 1, 50)}, categorical=(),
                                                              model_sha256="0" * 64, version="v1"))
    result = run_once(rt, clock=Clock(T0))
    assert result.exit_code == EXIT_PARTIAL and result.message.endswith("1 alerts could not be evaluated")
    (state,) = [s for s in store.load_alert_states().values() if s.rule == "PredictionDrift"]
    assert state.state == "error" and "IncompatibleBinsError" in state.summary


def test_broken_drift_settings_are_refused_before_any_rule_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        runtime(tmp_path, {"drift": {"alpha": "often"}})
    assert info.value.field == "drift.alpha"


def test_cost_per_prediction_priced_by_the_cost_model(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    store = rt.open_store()
    points = []
    for dep, duration_ms in ((COSTLY, 5000.0), (CHEAP, 20.0)):
        for m in range(1, 61):
            at = T0 - timedelta(minutes=m)
            points += [MetricPoint(dep.id, "invocations_count", at, 60, 10.0),
                       MetricPoint(dep.id, "rows_count", at, 60, 10.0),
                       MetricPoint(dep.id, "billed_duration_sum_ms", at, 60, 10 * duration_ms)]
    fill_store(store, points, deployments=(COSTLY, CHEAP))
    assert run_once(rt, clock=Clock(T0)).exit_code == EXIT_OK
    costly = {e for rule, e in firing(store) if rule == "CostPerPredictionHigh"}
    assert costly == {COSTLY.id}
    (state,) = [s for s in store.load_alert_states().values()
                if s.rule == "CostPerPredictionHigh" and s.entity == COSTLY.id]
    # 10 GB x 5 s x $0.0000166667 per GB-s + $0.2 per million requests
    assert state.value is not None and abs(state.value - (10 * 5 * 0.0000166667 + 0.0000002)) < 1e-6
