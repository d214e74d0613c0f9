"""What the Prometheus exporter serves, read from the numbers the store keeps (never from the points):
per deployment the Overview's window numbers and health, errors by cause, throttles, concurrency and
warm capacity, cost per 1,000 predictions and per hour, drift status with its most flagged signals,
firing alerts, advice savings and estimated quality; the alerts that are not ok; each collector's
freshness. A scrape therefore reads a handful of rows whatever the history.

Each part is read on its own: one that cannot be read (a store made by an earlier version without its
table, a corrupt row) is listed in :attr:`Exposition.unavailable` and the others are still served. When
the store itself does not answer (locked, unreachable), the parts not read yet are skipped at once:
each would wait as long again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from inferwatch.config import Settings
from inferwatch.schema import AlertStatus, split_deployment_id
from inferwatch.store import (
    AlertSummary,
    KeptFigures,
    Store,
    StoreError,
    StoreSchemaError,
    StoreUnavailableError,
    from_epoch,
)
from readmodels.drift_status import RecordedDrift, load_recorded_drift
from readmodels.exposition_kept import ADVICE_TOPIC, QUALITY_TOPIC, WINDOW_S, WINDOW_TOPIC
from readmodels.overview import KeptWindow, build_overview, load_kept_window
from readmodels.sources import SourceHealth, source_health

DRIFT_SIGNALS_PER_DEPLOYMENT = 3  # the default bound on drift signal series per deployment
ACTIVE_STATES = (AlertStatus.PENDING.value, AlertStatus.FIRING.value, AlertStatus.NODATA.value,
                 AlertStatus.ERROR.value)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class DriftSignal:
    """One flagged signal of a deployment's newest drift window (warn or drift)."""

    signal: str
    check: str
    statistic: str
    status: str
    effect: float
    threshold: float


@dataclass(frozen=True, slots=True)
class DeploymentExposition:
    """One deployment's numbers over the kept window (None: not known, e.g. no traffic)."""

    deployment: str
    service: str
    provider: str
    region: str
    model_version: str
    role: str
    health: str  # bad | warn | no_data | ok, as on the Overview
    invocations: int
    predictions: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    slo_p99_ms: float
    error_rate: float | None
    cold_start_rate: float | None
    cost_per_1k_usd: float | None
    cost_per_hour_usd: float | None
    drift_status: str
    drift_signals: tuple[DriftSignal, ...]  # the most flagged first, at most the exposition's bound
    drift_flagged: int  # every warn or drift signal, shown or not
    firing_alerts: int
    figures: Mapping[str, float] = field(default_factory=dict)  # readmodels.exposition_kept.window_figures
    advice_savings_usd: Mapping[str, float] = field(default_factory=dict)  # advice kind -> monthly saving
    quality: Mapping[str, float] = field(default_factory=dict)  # quality metric -> estimate


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    alertname: str
    entity: str
    severity: str
    state: str  # pending | firing | nodata | error
    since: datetime


@dataclass(frozen=True, slots=True)
class Exposition:
    window_s: int
    drift_signals_bound: int
    deployments: tuple[DeploymentExposition, ...] = ()
    alerts: tuple[ActiveAlert, ...] = ()
    sources: tuple[SourceHealth, ...] = ()
    as_of: Mapping[str, datetime] = field(default_factory=dict)  # part -> when its numbers were computed
    unavailable: Mapping[str, str] = field(default_factory=dict)  # part -> why it could not be read

    @property
    def store_up(self) -> bool:
        """The store answered (parts may still be missing: see ``unavailable``)."""
        return "store" not in self.unavailable


class _Reader:
    """Reads the parts one by one; remembers what failed and stops once the store does not answer."""

    def __init__(self) -> None:
        self.unavailable: dict[str, str] = {}

    def part(self, name: str, read: Callable[[], _T], default: _T) -> _T:
        if "store" in self.unavailable:
            return default
        try:
            return read()
        except StoreSchemaError as exc:  # a store made by an earlier version: its other parts still read
            self.unavailable[name] = " ".join(str(exc).split())[:300]
            return default
        except StoreUnavailableError as exc:
            self.unavailable["store"] = str(exc)
        except (StoreError, KeyError, TypeError, ValueError) as exc:  # an old schema, a corrupt kept row
            self.unavailable[name] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
        return default


def exposition_version(store: Store, now: datetime) -> tuple[Any, ...]:
    """Changes whenever :func:`load_exposition` would return something else at ``now`` (the exporter
    builds a page again only then); :class:`StoreError` when it cannot be read."""
    return store.kept_version(now, WINDOW_S)


def load_exposition(store: Store, settings: Settings, now: datetime, *,
                    drift_signals: int = DRIFT_SIGNALS_PER_DEPLOYMENT) -> Exposition:
    """Everything a scrape serves at ``now``, from the kept numbers (see the module's docstring)."""
    r = _Reader()
    kept: KeptWindow | None = r.part("window", lambda: load_kept_window(store, now, WINDOW_S,
                                                                         max_age_s=float("inf")), None)
    figures: dict[str, KeptFigures] = r.part(
        "figures", lambda: store.load_kept_figures([WINDOW_TOPIC, ADVICE_TOPIC, QUALITY_TOPIC]), {})
    drift: dict[str, RecordedDrift] = r.part("drift", lambda: load_recorded_drift(store, now), {})
    states: list[AlertSummary] = r.part("alerts", lambda: store.load_alert_summaries_in(ACTIVE_STATES), [])
    sources: tuple[SourceHealth, ...] = r.part("sources", lambda: tuple(source_health(store, now)), ())
    runs: list[dict[str, Any]] = r.part("alert_job", lambda: store.load_alert_runs(limit=1), [])
    alerts = tuple(sorted((ActiveAlert(s.rule, s.entity, s.severity, s.state, from_epoch(s.since_s))
                           for s in states), key=lambda a: (a.alertname, a.entity)))
    as_of = {topic: k.computed_at for topic, k in figures.items()}
    if kept is not None:
        as_of["window"] = kept.computed_at
    if runs:
        as_of["alert_job"] = from_epoch(runs[0]["finished_at"])
    deployments: tuple[DeploymentExposition, ...] = ()
    if kept is not None:
        deployments = r.part("window", lambda: _deployments(store, settings, now, kept, figures, drift, alerts,
                                                            drift_signals), ())
    return Exposition(WINDOW_S, drift_signals, deployments, alerts, sources, as_of, dict(r.unavailable))


def _deployments(store: Store, settings: Settings, now: datetime, kept: KeptWindow, figures: Mapping[str, KeptFigures],
                 drift: Mapping[str, RecordedDrift], alerts: tuple[ActiveAlert, ...],
                 bound: int) -> tuple[DeploymentExposition, ...]:
    window = figures.get(WINDOW_TOPIC)
    per_dep = window.figures if window is not None else {}
    advice = figures[ADVICE_TOPIC].figures if ADVICE_TOPIC in figures else {}
    quality = figures[QUALITY_TOPIC].figures if QUALITY_TOPIC in figures else {}
    firing = Counter(a.entity for a in alerts if a.state == AlertStatus.FIRING.value)
    slos = {dep: (float(f["slo_p99_ms"]) if "slo_p99_ms" in f else None) for dep, f in per_dep.items()}
    rows = build_overview(store, settings, now, window_s=kept.window_s, drift={d: x.status for d, x in drift.items()},
                          firing=firing, costs=kept.costs, statuses=kept.statuses, slo_p99_ms=slos)
    out = []
    for row in rows:
        provider, region, _ = split_deployment_id(row.deployment)
        recorded = drift.get(row.deployment)
        flagged = recorded.signals if recorded is not None else ()
        usd = kept.costs.get(row.deployment, (None, 0.0))[0]
        out.append(DeploymentExposition(
            deployment=row.deployment, service=row.service, provider=provider, region=region,
            model_version=row.model_version, role=row.role, health=row.health, invocations=row.invocations,
            predictions=row.predictions, p50_ms=row.p50_ms, p95_ms=row.p95_ms, p99_ms=row.p99_ms,
            slo_p99_ms=row.slo_p99_ms, error_rate=row.error_rate, cold_start_rate=row.cold_start_rate,
            cost_per_1k_usd=row.cost_per_1k_usd,
            cost_per_hour_usd=usd * 3600 / kept.window_s if usd is not None else None,
            drift_status=row.drift_status, drift_signals=tuple(_signal(s) for s in flagged[:bound]),
            drift_flagged=len(flagged), firing_alerts=row.firing_alerts,
            figures=_numbers(per_dep.get(row.deployment)), advice_savings_usd=_numbers(advice.get(row.deployment)),
            quality=_numbers(quality.get(row.deployment))))
    return tuple(sorted(out, key=lambda d: d.deployment))


def _signal(s: Mapping[str, Any]) -> DriftSignal:
    return DriftSignal(str(s["signal"]), str(s["check"]), str(s["statistic"]), str(s["status"]),
                       float(s["effect"] or 0.0), float(s["threshold"] or 0.0))


def _numbers(values: Mapping[str, Any] | None) -> dict[str, float]:
    """Finite numbers by name (a kept row is JSON written by a round; anything else is left out)."""
    if not values:
        return {}
    out = {str(k): float(v) for k, v in values.items() if type(v) in (float, int)}  # not bool, not null
    return out if all(map(math.isfinite, out.values())) else {k: v for k, v in out.items() if math.isfinite(v)}
