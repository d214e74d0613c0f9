"""What one evaluation sees: metric series per deployment (with O(log n) window sums), collector
runs, drift decisions, model quality and cost per prediction. Built once per run; pure data, no I/O."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from inferwatch.schema import CollectionRun, Deployment, MetricPoint


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One metric of one deployment: step starts (epoch s, sorted) and values, with prefix sums."""

    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    prefix: npt.NDArray[np.float64]  # prefix[i] = sum(values[:i])

    @classmethod
    def of(cls, ts: Sequence[int], values: Sequence[float]) -> MetricSeries:
        t = np.asarray(ts, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        return cls(t, v, np.concatenate(([0.0], np.cumsum(v))))

    def _span(self, start_s: int, end_s: int) -> tuple[int, int]:
        return int(np.searchsorted(self.ts, start_s, "left")), int(np.searchsorted(self.ts, end_s, "left"))

    def count(self, start_s: int, end_s: int) -> int:
        i, j = self._span(start_s, end_s)
        return j - i

    def total(self, start_s: int, end_s: int) -> float:
        i, j = self._span(start_s, end_s)
        return float(self.prefix[j] - self.prefix[i])

    def values_in(self, start_s: int, end_s: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        i, j = self._span(start_s, end_s)
        return self.ts[i:j], self.values[i:j]


_EMPTY = MetricSeries.of([], [])


@dataclass(frozen=True, slots=True)
class SloDefaults:
    """The ``[slo]`` section: used where neither the rule nor the deployment sets a threshold."""

    p99_ms: float = 250.0
    availability: float = 0.999
    cold_start_rate: float = 0.10


@dataclass(frozen=True, slots=True)
class DriftDecision:
    """The drift engine's decision for one deployment: ``status`` per signal (``drift`` fires), or
    ``error`` when it could not be made (its baseline is unreadable: the message names it)."""

    signals: Mapping[str, str]
    scores: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MetricReading:
    """One quality metric's value and its 95% band (None where there is none)."""

    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class QualityReading:
    """One deployment's quality over a rule's window: estimated without labels and realised with them
    (metric -> reading, empty when there is none), each over ``*_rows`` rows, and the baseline's level
    (metric -> value). ``error`` says its quality could not be computed (its baseline is unreadable:
    the message names it)."""

    kind: str  # binary | multiclass | regressor
    estimated: Mapping[str, MetricReading] = field(default_factory=dict)
    realised: Mapping[str, MetricReading] = field(default_factory=dict)
    estimated_rows: int = 0
    realised_rows: int = 0
    baseline: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EvalData:
    """Everything the rules read. ``*_error`` say a source could not be queried (the Error state)."""

    deployments: tuple[Deployment, ...]
    series: Mapping[tuple[str, str], MetricSeries]
    step_s: int = 60
    slo: SloDefaults = SloDefaults()
    collector_runs: Mapping[str, tuple[CollectionRun, ...]] = field(default_factory=dict)  # newest first
    drift: Mapping[str, DriftDecision] | None = None  # None: no drift source configured
    drift_error: str | None = None
    cost_per_prediction_usd: Mapping[str, float] | None = None
    cost_error: str | None = None
    quality: Mapping[int, Mapping[str, QualityReading]] | None = None  # window_s -> deployment -> reading
    quality_error: str | None = None

    def get(self, deployment: str, metric: str) -> MetricSeries:
        return self.series.get((deployment, metric), _EMPTY)

    @classmethod
    def from_records(
        cls,
        deployments: Iterable[Deployment],
        points: Iterable[MetricPoint],
        runs: Iterable[CollectionRun] = (),
        *,
        step_s: int = 60,
        slo: SloDefaults = SloDefaults(),
        drift: Mapping[str, DriftDecision] | None = None,
        drift_error: str | None = None,
        cost_per_prediction_usd: Mapping[str, float] | None = None,
        cost_error: str | None = None,
        quality: Mapping[int, Mapping[str, QualityReading]] | None = None,
        quality_error: str | None = None,
    ) -> EvalData:
        """Index store records: points grouped per (deployment, metric), runs per collector."""
        grouped: dict[tuple[str, str], tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for p in points:
            ts, vals = grouped[(p.deployment, p.metric)]
            ts.append(int(p.start.timestamp()))
            vals.append(p.value)
        series = {key: MetricSeries.of(ts, vals) for key, (ts, vals) in grouped.items()}
        by_collector: dict[str, list[CollectionRun]] = defaultdict(list)
        for r in runs:
            by_collector[r.collector].append(r)
        ordered = {c: tuple(sorted(rs, key=lambda r: r.started_at, reverse=True)) for c, rs in by_collector.items()}
        return cls(deployments=tuple(deployments), series=series, step_s=step_s, slo=slo, collector_runs=ordered,
                   drift=drift, drift_error=drift_error, cost_per_prediction_usd=cost_per_prediction_usd,
                   cost_error=cost_error, quality=quality, quality_error=quality_error)
