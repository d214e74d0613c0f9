"""One window of one signal against its baseline column: every check's raw numbers, before the
cross-signal steps (Benjamini-Hochberg, persistence) of :mod:`drift.compare`.

Checks per numeric signal: ``distribution`` (the policy's effect size, p-value from the binned KS),
``nan_rate`` (NaN and null), ``inf_rate`` and ``out_of_range`` (finite values outside the reference
min/max). Per categorical signal: ``distribution`` (effect size, chi-square p-value) and ``null_rate``.

A constant numeric reference has no spread to measure a distance in (Wasserstein over a point is 0
whatever the window holds), so its distribution check is the total variation from that point mass:
the share of the window's values that differ from the constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drift import hellinger, jensen_shannon, ks, psi, total_variation, wasserstein
from drift.baseline import CategoricalColumn, Column, NumericColumn
from drift.binning import coarsen, common_layout
from drift.calibration import noise_levels
from drift.chi_square import chi_square_test
from drift.decision import DriftPolicy
from drift.errors import IncompatibleBinsError
from drift.noise import rate_noise_floor
from drift.window import WindowCounts

# one-sided normal 99.9% over 99% quantile: a rate's breach level from its 99% noise floor
_RATE_999_OVER_99 = 3.090232306167813 / 2.3263478740408408


@dataclass(frozen=True, slots=True)
class RawCheck:
    """A check's numbers for one window. ``effect``/``p_value`` are None when it could not run
    (``skip`` then says no_data or insufficient_data, and ``detail`` why)."""

    signal: str
    check: str
    statistic: str
    effect: float | None
    warn_threshold: float
    threshold: float
    noise_floor: float | None
    p_value: float | None
    n_reference: int
    n_current: int
    skip: str | None = None
    detail: str = ""
    secondary: dict[str, float] = field(default_factory=dict)
    floor: float = 0.0  # the effect floor
    breach_level: float | None = None  # 99.9% level under no drift (noise_floor is the 99% level)
    calibration: dict[str, float] = field(default_factory=dict)  # the baseline calibration terms used


def _proportion_effects(ref: NDArray[np.int64], cur: NDArray[np.int64]) -> dict[str, float]:
    ref_f, cur_f = ref.astype(np.float64), cur.astype(np.float64)
    p, q = ref_f / ref_f.sum(), cur_f / cur_f.sum()
    return {
        psi.NAME: psi.psi_unchecked(ref_f, cur_f),
        jensen_shannon.NAME: jensen_shannon.jensen_shannon_unchecked(p, q),
        hellinger.NAME: hellinger.hellinger_unchecked(p, q),
        total_variation.NAME: total_variation.total_variation_unchecked(p, q),
    }


def _numeric_effects(column: NumericColumn, window: WindowCounts) -> tuple[dict[str, float], float]:
    """All binned statistics and the KS p-value."""
    assert window.layout is not None
    layout = window.layout
    full = layout.size == column.edges.size  # an increasing subset as long as the edges is all of them
    ref = column.counts if full else coarsen(column.counts, column.full_layout, layout)
    cur = window.counts
    gap = np.cumsum(ref / ref.sum() - cur / cur.sum())[:-1]
    edges = column.edges if full else column.edges[layout]
    effects = {
        ks.NAME: ks.ks_from_cdf_gap(gap),
        wasserstein.NAME: wasserstein.wasserstein_from_cdf_gap(gap, np.diff(edges), column.std),
    }
    coarse = column.coarse_index if full else common_layout(column.coarse_index, layout)
    effects.update(_proportion_effects(coarse_counts(column, coarse), coarsen(cur, layout, coarse)))
    return effects, ks.ks_pvalue(effects[ks.NAME], column.finite_count, window.finite_count)


def coarse_counts(column: NumericColumn, layout: NDArray[np.int64]) -> NDArray[np.int64]:
    return coarsen(column.counts, column.full_layout, layout)


def _constant(column: NumericColumn, window: WindowCounts) -> tuple[float, float]:
    """Share of the window's finite values away from a constant reference, and its p-value."""
    assert window.layout is not None
    n_cur, n_ref = window.finite_count, column.finite_count
    pos = int(np.searchsorted(window.layout, column.edges.size - 1))  # bin pos is (layout[pos-1], layout[pos]]
    exact = pos < window.layout.size and (pos == 0 or window.layout[pos - 1] == column.edges.size - 2)
    inside = int(window.counts[pos]) if exact else 0  # a layout without prev(c) cannot isolate the value
    effect = 1.0 - inside / n_cur
    pooled = (n_cur - inside) / (n_ref + n_cur)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    p_value = 0.5 * math.erfc(effect / spread / math.sqrt(2)) if spread > 0 else 1.0
    return effect, min(1.0, max(0.0, p_value))


def _distribution(column: Column, window: WindowCounts, policy: DriftPolicy) -> RawCheck:
    numeric = isinstance(column, NumericColumn)
    constant = isinstance(column, NumericColumn) and column.min == column.max
    statistic = total_variation.NAME if constant else (
        policy.numeric_statistic if numeric else policy.categorical_statistic)
    warn, drift = policy.threshold(statistic)
    n_ref, n_cur = int(column.counts.sum()), window.finite_count
    base: dict[str, Any] = {"signal": column.name, "check": "distribution", "statistic": statistic,
                            "warn_threshold": warn, "threshold": drift, "n_reference": n_ref, "n_current": n_cur,
                            "floor": policy.floor(statistic)}
    if window.total_count == 0:
        return RawCheck(**base, effect=None, noise_floor=None, p_value=None, skip="no_data",
                        detail="the window has no rows")
    if n_cur < policy.min_rows:
        return RawCheck(**base, effect=None, noise_floor=None, p_value=None, skip="insufficient_data",
                        detail=f"{n_cur} usable values, fewer than the minimum of {policy.min_rows}")
    if n_ref < policy.min_reference_rows:
        return RawCheck(**base, effect=None, noise_floor=None, p_value=None, skip="insufficient_data",
                        detail=f"the baseline has {n_ref} usable values, fewer than the minimum of "
                               f"{policy.min_reference_rows}")
    if isinstance(column, NumericColumn) and constant:
        effect, p_value = _constant(column, window)
        return RawCheck(**base, effect=effect, noise_floor=0.0, breach_level=0.0, p_value=p_value,
                        detail=f"the baseline is the constant {column.min:g}: effect is the share of other values")
    if isinstance(column, NumericColumn):
        effects, p_value = _numeric_effects(column, window)
    else:
        effects = _proportion_effects(column.counts, window.counts)
        p_value = chi_square_test(column.counts, window.counts).p_value
    levels = noise_levels(column.null_constants, column.calibration, statistic, n_ref, n_cur)
    secondary = {k: v for k, v in effects.items() if k != statistic}
    return RawCheck(**base, effect=effects[statistic], noise_floor=levels.warn, breach_level=levels.breach,
                    p_value=p_value, secondary=secondary,
                    calibration={"between_window_excess": levels.excess, "noise_inflation": levels.inflation})


def _rate(signal: str, check: str, ref_events: float, ref_total: int, cur_events: int, cur_total: int,
          policy: DriftPolicy, what: str = "rows") -> RawCheck:
    base: dict[str, Any] = {"signal": signal, "check": check, "statistic": "rate_increase",
                            "warn_threshold": policy.rate_threshold, "threshold": policy.rate_threshold,
                            "n_reference": ref_total, "n_current": cur_total}
    if cur_total == 0:
        return RawCheck(**base, effect=None, noise_floor=None, p_value=None, skip="no_data",
                        detail=f"the window has no {what}")
    if cur_total < policy.min_rows or ref_total < 1:
        return RawCheck(**base, effect=None, noise_floor=None, p_value=None, skip="insufficient_data",
                        detail=f"{cur_total} {what}, fewer than the minimum of {policy.min_rows}")
    ref_rate, cur_rate = ref_events / ref_total, cur_events / cur_total
    pooled = (ref_events + cur_events) / (ref_total + cur_total)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / ref_total + 1 / cur_total))
    # one-sided two-proportion z-test: only a rise is a problem
    p_value = 0.5 * math.erfc((cur_rate - ref_rate) / spread / math.sqrt(2)) if spread > 0 else 1.0
    floor = rate_noise_floor(ref_rate, ref_total, cur_total)
    return RawCheck(**base, effect=cur_rate - ref_rate + 0.0, noise_floor=floor, breach_level=floor * _RATE_999_OVER_99,
                    p_value=min(1.0, max(0.0, p_value)), floor=policy.rate_threshold,
                    secondary={"reference_rate": ref_rate, "current_rate": cur_rate})


def evaluate_window(column: Column, window: WindowCounts, policy: DriftPolicy) -> list[RawCheck]:
    """Every check of one signal in one window."""
    if window.column_digest != column.digest or window.kind != column.kind:
        raise IncompatibleBinsError(column.name, "window counts were made over another baseline's bins")
    checks = [_distribution(column, window, policy)]
    if isinstance(column, CategoricalColumn):
        checks.append(_rate(column.name, "null_rate", column.null_count, column.total_count,
                            window.null_count, window.total_count, policy))
        return checks
    total = column.total_count
    checks.append(_rate(column.name, "nan_rate", column.nan_count + column.null_count, total,
                        window.nan_count + window.null_count, window.total_count, policy))
    checks.append(_rate(column.name, "inf_rate", column.posinf_count + column.neginf_count, total,
                        window.posinf_count + window.neginf_count, window.total_count, policy))
    layout = window.layout
    if layout is not None and layout.size and layout[0] == 0 and layout[-1] == column.edges.size - 1:
        outside = int(window.counts[0] + window.counts[-1])
        # a new draw falls outside the range of n reference draws with probability 2 / (n + 1); a
        # baseline taken from a window (drift.rebase) may itself hold values outside the range
        n_ref = column.finite_count
        expected = 2.0 / (n_ref + 1) * n_ref + float(column.counts[0] + column.counts[-1])
        checks.append(_rate(column.name, "out_of_range", expected, column.finite_count, outside,
                            window.finite_count, policy, what="finite values"))
    return checks
