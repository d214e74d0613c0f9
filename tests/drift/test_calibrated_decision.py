"""Issue 18: thresholds calibrated on the baseline. No-drift windows stay quiet at 1k to 1M rows for
every generated shape; the shapes' moderate drifts are flagged from the first drifted window."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from drift import (
    Baseline,
    DriftPolicy,
    InvalidInputError,
    Status,
    WindowCounts,
    build_baseline,
    compare,
    settings_from_mapping,
)
from tests.drift.shapes import SHAPES, Shape

REFERENCE_ROWS = 50_000
# windows per size: fewer at 1M rows (each is a million draws), enough at 1k to see a 0.1% false-alarm rate
NULL_WINDOWS = {1_000: 200, 10_000: 60, 100_000: 12, 1_000_000: 4}


def _baseline(shape: Shape, seed: int) -> Baseline:
    rng = np.random.default_rng(seed)
    return build_baseline({"x": shape.sample(rng, REFERENCE_ROWS, 0.0)},
                          categorical=["x"] if shape.categorical else [], model_sha256="0" * 64, version="v")


def _windows(baseline: Baseline, shape: Shape, rng: np.random.Generator, rows: int,
             drifts: list[float]) -> list[dict[str, WindowCounts]]:
    column = baseline.column("x")
    return [{"x": WindowCounts.from_values(column, shape.sample(rng, rows, d))} for d in drifts]


def _statuses(baseline: Baseline, windows: list[dict[str, WindowCounts]]) -> list[Status]:
    report = compare(baseline, windows)
    return [next(r.status for r in row if r.check == "distribution") for row in report.history]


def _check_quiet(shape: Shape, rows: int) -> None:
    baseline = _baseline(shape, seed=rows % 97)
    rng = np.random.default_rng(rows + 1)
    windows = _windows(baseline, shape, rng, rows, [0.0] * NULL_WINDOWS[rows])
    report = compare(baseline, windows)
    alerts = [(i, r.check, r.effect) for i, row in enumerate(report.history) for r in row if r.status is Status.DRIFT]
    assert not alerts, f"{shape.name} at {rows} rows: false alarms {alerts}"


@pytest.mark.parametrize("rows", [1_000, 10_000, 100_000])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_no_drift_stays_quiet(shape: Shape, rows: int) -> None:
    _check_quiet(shape, rows)


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_no_drift_stays_quiet_at_a_million_rows(shape: Shape) -> None:
    _check_quiet(shape, 1_000_000)


def _check_recall(shape: Shape, rows: int, size: float) -> None:
    baseline = _baseline(shape, seed=3)
    rng = np.random.default_rng(rows + 7)
    # drift of known size starts at window 3 (0-based) and stays
    statuses = _statuses(baseline, _windows(baseline, shape, rng, rows, [0.0, 0.0, 0.0, size, size, size]))
    assert all(s is not Status.DRIFT for s in statuses[:3]), f"{shape.name}: pre-drift alarm {statuses}"
    assert all(s is Status.DRIFT for s in statuses[3:]), f"{shape.name} d={size} at {rows} rows: {statuses}"


@pytest.mark.parametrize("rows", [10_000, 100_000])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_moderate_drift_is_flagged_from_its_first_window(shape: Shape, rows: int) -> None:
    _check_recall(shape, rows, shape.moderate)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_drift_a_small_window_can_see_is_flagged_at_a_thousand_rows(shape: Shape) -> None:
    _check_recall(shape, 1_000, shape.small_window)


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_moderate_drift_is_flagged_at_a_million_rows(shape: Shape) -> None:
    _check_recall(shape, 1_000_000, shape.moderate)


def test_a_tiny_shift_never_alerts_at_any_size() -> None:
    baseline = _baseline(SHAPES[0], seed=5)
    rng = np.random.default_rng(6)
    for rows in (1_000, 10_000, 100_000, 1_000_000):
        statuses = _statuses(baseline, _windows(baseline, SHAPES[0], rng, rows, [0.01] * 3))
        assert Status.DRIFT not in statuses, (rows, statuses)


def test_borderline_breach_waits_for_persistence_and_a_large_one_does_not() -> None:
    baseline = _baseline(SHAPES[0], seed=8)
    rng = np.random.default_rng(9)
    column = baseline.column("x")

    def window(shift: float) -> dict[str, WindowCounts]:
        return {"x": WindowCounts.from_values(column, rng.normal(0, 1, 1_000) + shift)}

    clean = window(0.0)
    one = compare(baseline, [clean])
    result = one.result("x")
    assert result.immediate_threshold is not None and result.threshold < result.immediate_threshold
    # a window whose effect lies between the breach and the immediate level: found by drawing
    middle = []
    while len(middle) < 2:
        w = window(0.12)
        r = compare(baseline, [clean, w]).result("x")
        if r.effect is not None and r.threshold < r.effect <= (r.immediate_threshold or 0) and r.p_value_adjusted \
                and r.p_value_adjusted < 0.01:
            middle.append((w, r))
    assert middle[0][1].status is Status.WARN  # borderline, 1 breach of the last 2 windows
    second = compare(baseline, [clean, middle[0][0], middle[1][0]]).result("x")
    assert second.status is Status.DRIFT and second.breaches == 2
    large = compare(baseline, [clean, window(0.5)]).result("x")
    assert large.status is Status.DRIFT and large.breaches == 1


def test_between_window_variation_of_the_reference_raises_the_threshold() -> None:
    # A reference whose mean wobbles from stretch to stretch (batches, seasons): windows that wobble as
    # much are not drift. The sampling-only model (the calibration removed) cries wolf at 1M rows.
    rng = np.random.default_rng(10)
    offsets = rng.normal(0, 0.05, 20)
    reference = np.concatenate([rng.normal(o, 1, 2_500) for o in offsets])
    baseline = build_baseline({"x": reference}, categorical=[], model_sha256="0" * 64, version="v")
    column = baseline.column("x")
    windows = [{"x": WindowCounts.from_values(column, rng.normal(o, 1, 1_000_000))}
               for o in (0.07, -0.07, 0.075, -0.06)]  # within 1.5 sd of the reference wobble
    calibrated = compare(baseline, windows)
    assert all(r.status is not Status.DRIFT for row in calibrated.history for r in row)
    assert calibrated.result("x").calibration["between_window_excess"] > 0
    legacy = Baseline(baseline.model_sha256, baseline.version, {"x": replace(column, calibration=None)})
    assert any(r.status is Status.DRIFT for row in compare(legacy, windows).history for r in row)
    drifted = {"x": WindowCounts.from_values(column, rng.normal(0.4, 1, 1_000_000))}
    assert compare(baseline, [*windows, drifted]).result("x").status is Status.DRIFT


def test_policy_floors_are_settable_and_validated() -> None:
    assert DriftPolicy().floor("wasserstein_sigma") == 0.05 and DriftPolicy().floor("rate_increase") == 0.0
    assert DriftPolicy(floors={"wasserstein_sigma": 0.2}).floor("wasserstein_sigma") == 0.2
    with pytest.raises(ValueError, match="floors.psi"):
        DriftPolicy(floors={"psi": -1.0})
    with pytest.raises(ValueError, match="immediate_factor"):
        DriftPolicy(immediate_factor=0.5)
    settings = settings_from_mapping({"floors": {"jensen_shannon": 0.04}, "min_reference_rows": 50})
    assert settings.policy.floor("jensen_shannon") == 0.04 and settings.policy.min_reference_rows == 50
    assert settings.policy.floor("wasserstein_sigma") == 0.05
    with pytest.raises(InvalidInputError, match="drift.floors.nope"):
        settings_from_mapping({"floors": {"nope": 0.1}})
    with pytest.raises(InvalidInputError, match="drift.floors.ks"):
        settings_from_mapping({"floors": {"ks": "high"}})
