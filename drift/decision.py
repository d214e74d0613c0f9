"""Decision rules: when does a signal drift.

A check *breaches* in a window when all three hold:
1. evidence: its p-value, Benjamini-Hochberg adjusted across all checks of that window, is below
   ``alpha`` (a p-value alone is never enough: at 1M rows KS flags a 0.01 sigma shift every time);
2. relevance: the effect size exceeds the statistic's effect floor (``floors``; defaults justified
   in each module: small enough to catch moderate drift such as 0.09 sigma or a 3-point move);
3. beyond chance: the effect exceeds the 99.9% level of the statistic under no drift for these
   sample sizes, calibrated on the baseline itself (:mod:`drift.calibration`: sampling noise plus
   the between-window variation of the reference, which does not shrink with N).
A breach whose effect is also clearly beyond chance (above ``immediate_factor`` times that 99.9%
level) is ``drift`` at once: large effects are not delayed. A borderline breach is ``drift`` only when at
least ``persistence_m`` of the last
``persistence_n`` windows breached (fewer when fewer windows were given), else ``warn``; ``warn``
also marks an effect above the floor and the 99% level. Windows with no rows are ``no_data``;
windows with fewer than ``min_rows`` usable rows, or a baseline column with fewer than
``min_reference_rows``, are ``insufficient_data``. Neither is an exception, neither is "ok".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from drift.errors import InvalidInputError
from drift.registry import STATISTICS


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    DRIFT = "drift"
    INSUFFICIENT_DATA = "insufficient_data"
    NO_DATA = "no_data"


SEVERITY = {Status.OK: 0, Status.NO_DATA: 1, Status.INSUFFICIENT_DATA: 1, Status.WARN: 2, Status.DRIFT: 3}

# A rise of half a percentage point in the share of NaN/null, inf or out-of-range values: 1% NaN
# (a broken upstream feature) is twice that, while one NaN in 2,000 rows (0.05%) is ten times below.
RATE_THRESHOLD = 0.005


def _default_thresholds() -> dict[str, tuple[float, float]]:
    return {name: (spec.warn_threshold, spec.drift_threshold) for name, spec in STATISTICS.items()}


def _default_floors() -> dict[str, float]:
    return {name: spec.effect_floor for name, spec in STATISTICS.items()}


# A breach at 1.25 times the 99.9% level is beyond the 99.999% level of every statistic here (a
# chi-square with 1 dof, the widest, has its 99.999% quantile at sqrt(19.5 / 10.8) = 1.34 times the
# 99.9% one in distance terms, one with 9 dof at 1.17): not noise, so no reason to wait for a second window.
IMMEDIATE_FACTOR = 1.25


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """Everything that turns statistics into statuses; every field has a justified default."""

    numeric_statistic: str = "wasserstein_sigma"  # Evidently's default for > 1,000 rows: an effect size
    categorical_statistic: str = "jensen_shannon"  # NannyML's and Evidently's default for classes
    # the classic fixed (warn, drift) levels of each statistic; since calibration they are reported as
    # secondary context only, the decision uses floors and the calibrated levels
    thresholds: Mapping[str, tuple[float, float]] = field(default_factory=_default_thresholds)
    floors: Mapping[str, float] = field(default_factory=_default_floors)  # smallest effect that can alert
    rate_threshold: float = RATE_THRESHOLD
    alpha: float = 0.01  # BH false discovery rate per evaluation
    min_rows: int = 500  # drift-anchors.md section 5: below ~500 rows every distance is mostly noise
    persistence_m: int = 2
    persistence_n: int = 3
    min_reference_rows: int = 100  # a baseline column with fewer values cannot say what chance looks like
    immediate_factor: float = IMMEDIATE_FACTOR

    def __post_init__(self) -> None:
        for name, kind in ((self.numeric_statistic, "numeric"), (self.categorical_statistic, "categorical")):
            spec = STATISTICS.get(name)
            if spec is None or kind not in spec.kinds or not spec.binned:
                raise InvalidInputError(f"{kind}_statistic", f"{name!r} is not a binned {kind} effect size")
        for name, (warn, drift) in self.thresholds.items():
            if not 0 <= warn <= drift:
                raise InvalidInputError(f"thresholds.{name}", "need 0 <= warn <= drift")
        if not 0 < self.alpha < 1:
            raise InvalidInputError("alpha", f"must be in (0, 1), got {self.alpha}")
        if self.rate_threshold < 0:
            raise InvalidInputError("rate_threshold", "must be >= 0")
        if self.min_rows < 1:
            raise InvalidInputError("min_rows", "must be >= 1")
        if not 1 <= self.persistence_m <= self.persistence_n:
            raise InvalidInputError("persistence_m", "need 1 <= persistence_m <= persistence_n")
        for name, floor in self.floors.items():
            if not floor >= 0:
                raise InvalidInputError(f"floors.{name}", "need a floor >= 0")
        if self.min_reference_rows < 1:
            raise InvalidInputError("min_reference_rows", "must be >= 1")
        if not self.immediate_factor >= 1:
            raise InvalidInputError("immediate_factor", "must be >= 1")

    def threshold(self, statistic: str) -> tuple[float, float]:
        """(warn, drift) thresholds of a statistic."""
        if statistic in self.thresholds:
            return self.thresholds[statistic]
        spec = STATISTICS[statistic]
        return spec.warn_threshold, spec.drift_threshold

    def floor(self, statistic: str) -> float:
        """The effect floor of a statistic (0 for rates and test statistics without one)."""
        if statistic in self.floors:
            return float(self.floors[statistic])
        spec = STATISTICS.get(statistic)
        return spec.effect_floor if spec is not None else 0.0


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1), in input order.

    Parameters
    ----------
    p_values
        Raw p-values in [0, 1].

    Returns
    -------
    list of float
        Adjusted p-values; reject at FDR level q where adjusted < q.

    Raises
    ------
    InvalidInputError
        A p-value outside [0, 1] or NaN.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return []
    if not np.all((p >= 0) & (p <= 1)):
        raise InvalidInputError("p_values", "p-values must be in [0, 1]")
    order = np.argsort(p, kind="stable")
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted_sorted = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    adjusted = np.empty_like(adjusted_sorted)
    adjusted[order] = adjusted_sorted
    return [float(v) for v in adjusted]


def persistent(breaches: Sequence[bool], m: int, n: int) -> bool:
    """True when the last window breached and at least ``m`` of the last ``n`` did (``m`` is
    lowered to the number of windows available, so a single-window check can still alert)."""
    recent = list(breaches)[-n:]
    if not recent or not recent[-1]:
        return False
    return sum(recent) >= min(m, len(recent))


def gated_status(drift_breaches: Sequence[bool], warn_breach: bool, policy: DriftPolicy,
                 immediate: bool = False) -> Status:
    """Status of the last window from its breach history (``immediate``: the last breach is large)."""
    if drift_breaches and drift_breaches[-1] and immediate:
        return Status.DRIFT
    if persistent(drift_breaches, policy.persistence_m, policy.persistence_n):
        return Status.DRIFT
    if warn_breach or (drift_breaches and drift_breaches[-1]):
        return Status.WARN
    return Status.OK
