"""What a run reads from the store, and how little: the last hour (or the longest window a
non-additive rule needs) at full resolution, and for longer windows of additive rules (counts:
error rate, cold starts, burn rate, traffic) only their sums, computed by the database.

A 6 h burn-rate window thus costs one GROUP BY instead of 6 h of points per deployment, and stays
exact: the older part of each long window becomes one synthetic step holding its sum, so
``Series.total(now - window, now)`` is the exact total for every window a rule asks about.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select

from alerts.rules import Rule
from alerts.series import EvalData, SloDefaults
from alerts.settings import AlertSettings
from alerts.sources import load_cost_per_prediction, load_drift
from inferwatch.runtime import Runtime
from inferwatch.schema import CollectionRun, Deployment, MetricPoint
from inferwatch.schema import Metric as M
from inferwatch.store import Store, from_epoch, to_epoch
from inferwatch.store import tables as t

ADDITIVE_KINDS = frozenset({"error_rate", "cold_start_rate", "burn_rate", "no_data"})
ADDITIVE_METRICS = (M.INVOCATIONS, M.SERVER_ERRORS, M.TIMEOUTS, M.DEGRADED, M.COLD_STARTS)
FINE_METRICS = (*ADDITIVE_METRICS, M.LATENCY_P99, M.PROVISIONED_UTILIZATION, M.INSTANCES_ACTIVE)
MIN_FINE_S = 3600


@dataclass(frozen=True, slots=True)
class Records:
    deployments: tuple[Deployment, ...]
    points: tuple[MetricPoint, ...]
    runs: tuple[CollectionRun, ...]


def plan_windows(rules: Sequence[Rule]) -> tuple[int, tuple[int, ...]]:
    """(full-resolution horizon, longer windows of additive rules), in seconds."""
    horizon = max([MIN_FINE_S]
                  + [r.window_s for r in rules if r.kind not in ADDITIVE_KINDS and r.kind != "collector_failing"]
                  + [r.short_window_s for r in rules if r.short_window_s])
    longer = sorted({r.window_s for r in rules if r.kind in ADDITIVE_KINDS and r.window_s > horizon}, reverse=True)
    return horizon, tuple(longer)


def load_segment_sums(store: Store, deployments: Sequence[str], now: datetime, horizon_s: int,
                      windows: Sequence[int], step_s: int) -> list[MetricPoint]:
    """One synthetic step per (deployment, additive metric, segment) between consecutive long windows."""
    edges = [*windows, horizon_s]
    mp = t.metric_points
    out: list[MetricPoint] = []
    with store.read() as conn:
        for older, newer in itertools.pairwise(edges):
            start, end = now - timedelta(seconds=older), now - timedelta(seconds=newer)
            stmt = (select(mp.c.deployment_id, mp.c.metric, func.sum(mp.c.value))
                    .where(and_(mp.c.deployment_id.in_(list(deployments)),  # the primary key leads
                                mp.c.metric.in_([m.value for m in ADDITIVE_METRICS]), mp.c.step_s == step_s,
                                mp.c.ts >= to_epoch(start), mp.c.ts < to_epoch(end)))
                    .group_by(mp.c.deployment_id, mp.c.metric))
            out += [MetricPoint(r[0], r[1], from_epoch(to_epoch(start)), older - newer, float(r[2]))
                    for r in conn.execute(stmt).all()]
    return out


def fetch_records(store: Store, rules: Sequence[Rule], step_s: int, now: datetime) -> Records:
    """Every store query of a run (the benchmark's baseline)."""
    horizon, longer = plan_windows(rules)
    deployments = tuple(store.load_deployments())
    ids = [d.id for d in deployments]  # naming them lets both queries seek the primary key
    points = store.load_metrics(deployments=ids, metrics=[m.value for m in FINE_METRICS], step_s=step_s,
                                start=now - timedelta(seconds=horizon), end=now)
    points += load_segment_sums(store, ids, now, horizon, longer, step_s)
    failures = max((r.failures for r in rules if r.kind == "collector_failing"), default=3)
    runs = store.load_runs(limit=max(100, 20 * failures))
    return Records(deployments, tuple(points), tuple(runs))


def load_data(store: Store, rt: Runtime, settings: AlertSettings, now: datetime) -> EvalData:
    step_s = rt.settings.collect.step_s
    records = fetch_records(store, settings.rules, step_s, now)
    slo = rt.settings.slo
    kinds = {r.kind for r in settings.rules}
    drift, drift_error = load_drift(store, records.deployments, now, rt) if "drift" in kinds else (None, None)
    cost_window = max((r.window_s for r in settings.rules if r.kind == "cost_per_prediction"), default=0)
    cost, cost_error = (load_cost_per_prediction(store, records.deployments, now, rt, cost_window) if cost_window
                        else (None, None))
    return EvalData.from_records(
        records.deployments, records.points, records.runs, step_s=step_s,
        slo=SloDefaults(p99_ms=slo.p99_ms, availability=slo.availability, cold_start_rate=slo.cold_start_rate),
        drift=drift, drift_error=drift_error, cost_per_prediction_usd=cost, cost_error=cost_error)
