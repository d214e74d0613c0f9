"""What every kind of advice is made of: the record (what to change, the numbers behind it, the monthly
saving, the effect on latency and cold starts, how sure it is), its evidence and the policy thresholds.
The kinds (:mod:`costs.warm_capacity`, :mod:`costs.right_sizing`, :mod:`costs.cloud_run_advice`) build
these; :func:`costs.advice.advise` runs them all."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Evidence:
    name: str
    value: float
    unit: str

    def render(self) -> str:
        value = f"{self.value:,.6g}" if abs(self.value) < 1e6 else f"{self.value:,.0f}"
        return f"{self.name} = {value} {self.unit}".rstrip()


@dataclass(frozen=True, slots=True)
class Advice:
    """One recommendation for one deployment."""

    deployment: str
    kind: str  # warm_capacity | idle_cost | memory | architecture | billing_mode | concurrency
    action: str  # reduce | raise | scale_to_zero | resize | switch | info
    summary: str
    current: str
    proposed: str
    monthly_saving_usd: float  # > 0 saves money; < 0 costs more (e.g. raising warm capacity)
    latency_effect: str
    cold_start_effect: str
    confidence: str
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"confidence must be one of {CONFIDENCES}, got {self.confidence!r}")
        if not math.isfinite(self.monthly_saving_usd):
            raise ValueError(f"monthly_saving_usd must be finite, got {self.monthly_saving_usd!r}")

    def as_dict(self) -> dict[str, object]:
        return {
            "deployment": self.deployment, "kind": self.kind, "action": self.action, "summary": self.summary,
            "current": self.current, "proposed": self.proposed,
            "monthly_saving_usd": round(self.monthly_saving_usd, 6), "latency_effect": self.latency_effect,
            "cold_start_effect": self.cold_start_effect, "confidence": self.confidence,
            "evidence": [{"name": e.name, "value": e.value, "unit": e.unit} for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class AdvicePolicy:
    """Thresholds of the advice rules (the seed's 30% warm-capacity rule is the default)."""

    reduce_below_utilization: float = 0.30
    target_utilization: float = 0.70  # the level a reduced warm capacity should run at
    utilization_quantile: float = 0.99  # of the per-step utilisation, sizes the reduced level
    baseline_quantile: float = 0.10  # of the active instances: the always-present baseline traffic
    memory_headroom: float = 0.30  # kept above the maximum memory used
    oom_risk_ratio: float = 0.90  # max used / configured at or above this is an out-of-memory risk
    cold_start_rate_slo: float = 0.10
    min_saving_usd: float = 0.01  # advice saving less than this per month is not worth a line
    switch_margin: float = 0.05  # a billing mode must be this much cheaper to be advised
    # Less metrics than this (two 1-minute steps) is too little to extrapolate a month from; more, and
    # the advice says how sure it is (confidence low below a day of data).
    min_observed_s: float = 120.0

    def __post_init__(self) -> None:
        for name in ("reduce_below_utilization", "target_utilization", "utilization_quantile",
                     "baseline_quantile", "oom_risk_ratio", "cold_start_rate_slo", "switch_margin"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"AdvicePolicy.{name} must be within (0, 1], got {value!r}")
        for name in ("memory_headroom", "min_observed_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"AdvicePolicy.{name} must be >= 0, got {getattr(self, name)!r}")


def confidence_from_period(period_s: float, *, observations: float) -> str:
    """A week of data with traffic is high, a day medium, less low."""
    if observations <= 0 or period_s < 86_400:
        return "low"
    return "high" if period_s >= 7 * 86_400 else "medium"


def quantile(values: Sequence[float], q: float) -> float:
    if not values:
        raise ValueError("quantile of no values")
    return float(np.quantile(np.asarray(values, dtype=float), q))
