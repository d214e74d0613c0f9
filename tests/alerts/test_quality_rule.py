"""The quality_below rule: fires when estimated quality's whole band (or realised quality) is under the
floor, resolves when it recovers, errs on a metric of another kind of model, and refuses a rule that
cannot be evaluated when the config is read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

import quality
from alerts.errors import AlertConfigError
from alerts.evaluate import evaluate
from alerts.rules import (
    CEILING_METRICS,
    CLASSIFIER_QUALITY_METRICS,
    REGRESSOR_QUALITY_METRICS,
    MissingData,
    Outcome,
    Rule,
    Severity,
    check_quality_below,
    render_summary,
)
from alerts.series import MetricReading, QualityReading
from alerts.settings import parse_rules
from inferwatch.schema import AlertState, AlertStatus
from quality.realised import LOWER_IS_BETTER
from tests.alerts.builders import DEP, T0, data_with

WINDOW_S = 3600


def rule(**kwargs: Any) -> Rule:
    base: dict[str, Any] = {
        "name": "QualityLow", "kind": "quality_below", "severity": Severity.TICKET, "window_s": WINDOW_S,
        "for_s": 120, "metric": "accuracy", "source": "either", "below_baseline": 0.05, "min_requests": 100,
        "summary": "{entity}: {source} {metric} {value:.3f} ({low:.3f}-{high:.3f}) under {threshold:.3f} "
                   "(baseline {baseline:.3f}, {rows:.0f} rows)",
        "missing_data": MissingData.NOT_BREACHING}
    return Rule(**(base | kwargs))


def reading(estimated: tuple[float, float, float] | None = None, realised: float | None = None, *,
            kind: str = "binary", rows: int = 5000, metric: str = "accuracy") -> QualityReading:
    return QualityReading(kind=kind,
                          estimated={metric: MetricReading(*estimated)} if estimated else {},
                          realised={metric: MetricReading(realised)} if realised is not None else {},
                          estimated_rows=rows, realised_rows=rows, baseline={metric: 0.97})


def observe(r: Rule, q: QualityReading | None, **data: Any) -> Any:
    quality_map = {WINDOW_S: {DEP.id: q}} if q is not None else {WINDOW_S: {}}
    return check_quality_below(r, DEP, data_with([], quality=quality_map, **data), 0)


def test_the_quality_metric_lists_are_qualitys() -> None:
    assert CLASSIFIER_QUALITY_METRICS == quality.CLASSIFIER_METRICS
    assert REGRESSOR_QUALITY_METRICS == quality.REGRESSOR_METRICS
    assert CEILING_METRICS == LOWER_IS_BETTER


def test_an_estimate_breaches_only_when_its_whole_band_is_under_the_floor() -> None:
    assert observe(rule(source="estimated"), reading((0.88, 0.86, 0.90))).outcome is Outcome.BREACH
    assert observe(rule(source="estimated"), reading((0.91, 0.88, 0.94))).outcome is Outcome.OK
    assert observe(rule(source="realised"), reading(realised=0.91)).outcome is Outcome.BREACH
    either = observe(rule(), reading((0.95, 0.94, 0.96), realised=0.90))
    assert either.outcome is Outcome.BREACH and either.variables["source"] == "realised"
    too_few = observe(rule(), reading((0.5, 0.4, 0.6), rows=20))
    assert too_few.outcome is Outcome.NODATA and "100 rows" in too_few.message
    absolute = observe(rule(below_baseline=None, threshold=0.9), reading(realised=0.89))
    assert absolute.outcome is Outcome.BREACH and absolute.variables["threshold"] == 0.9


def test_mae_is_a_ceiling_and_a_classifier_metric_of_a_regressor_errs() -> None:
    mae = QualityReading(kind="regressor", realised={"mae": MetricReading(3.0)}, realised_rows=500,
                         baseline={})
    assert observe(rule(metric="mae", below_baseline=None, threshold=2.5), mae).outcome is Outcome.BREACH
    assert observe(rule(metric="mae", below_baseline=None, threshold=3.5), mae).outcome is Outcome.OK
    wrong = observe(rule(metric="accuracy"), mae)
    assert wrong.outcome is Outcome.ERROR
    assert wrong.message == "'accuracy' is not a regressor metric (use one of: mae, rmse, bias)"
    no_level = observe(rule(metric="mae"), mae)
    assert no_level.outcome is Outcome.NODATA and "no baseline level" in no_level.message
    unreadable = observe(rule(), QualityReading(kind="", error="baseline b1 is unreadable"))
    assert unreadable.outcome is Outcome.ERROR and "b1" in unreadable.message
    assert observe(rule(), None, quality_error="StoreError: down").outcome is Outcome.ERROR
    unknown = observe(rule(), QualityReading(kind="unknown"))  # a baseline with a score but no class signal
    assert unknown.outcome is Outcome.NODATA and "no class signal" in unknown.message
    assert observe(rule(), None).outcome is Outcome.NODATA


def test_it_fires_after_for_and_resolves_when_quality_recovers() -> None:
    r = rule(source="estimated")
    timeline = [reading((0.96, 0.95, 0.97))] * 3 + [reading((0.85, 0.83, 0.87))] * 5 + [reading((0.96, 0.95, 0.97))] * 3
    states: Mapping[str, AlertState] = {}
    seen = []
    for minute, q in enumerate(timeline):
        ev = evaluate([r], data_with([], quality={WINDOW_S: {DEP.id: q}}), states, T0 + timedelta(minutes=minute))
        states = ev.states
        seen.append(next(iter(states.values())).state)
    assert seen[:3] == [AlertStatus.OK] * 3
    assert seen[3:5] == [AlertStatus.PENDING] * 2 and seen[5:8] == [AlertStatus.FIRING] * 3
    assert seen[8] == AlertStatus.RESOLVED
    text = render_summary(r, observe(r, reading((0.85, 0.83, 0.87))))
    assert text == f"{DEP.id}: estimated accuracy 0.850 (0.830-0.870) under 0.920 (baseline 0.970, 5000 rows)"


@pytest.mark.parametrize(("fields", "problem"), [
    ({}, "needs threshold (an absolute floor) or below_baseline"),
    ({"threshold": 0.9, "below_baseline": 0.05}, "one of them"),
    ({"threshold": 0.9, "metric": "precison"}, "'precison' is not a quality metric"),
    ({"threshold": 0.9, "metric": "f1:cat"}, "not a quality metric"),
    ({"threshold": 0.9, "source": "guessed"}, "source"),
    ({"threshold": 0.9, "summary": "{entity} {latency}"}, "a quality_below rule offers"),
])
def test_a_rule_that_cannot_be_evaluated_is_refused_when_read(fields: dict[str, Any], problem: str) -> None:
    raw = {"name": "Q", "kind": "quality_below", "summary": "{entity}: {metric} {value}"} | fields
    with pytest.raises(AlertConfigError, match=re.escape(problem)):
        parse_rules([raw], "alerts.rules")
    ok = parse_rules([{"name": "Q", "kind": "quality_below", "summary": "{entity}", "metric": "recall:malignant",
                       "threshold": 0.8}], "alerts.rules")
    assert ok[0].metric == "recall:malignant" and ok[0].source == "either"
