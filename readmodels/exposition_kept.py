"""The figures a collection round keeps for the Prometheus exporter, beyond the Overview's window
numbers (``readmodels.overview.record_window_numbers``): per deployment, over the same 15-minute window,
errors by cause, throttles, peak concurrency, warm-capacity utilisation, the configured warm capacity and
SLO; and, refreshed every 15 minutes, the monthly saving of each kind of advice over the last week.

Why kept: a scrape must cost milliseconds whatever the history and the number of deployments; these
take a window scan per round (and advice seconds per refresh at a thousand deployments), once, where
the data changes. Each topic is one row of ``kept_figures`` (:class:`inferwatch.store.KeptFigures`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from costs.advice_model import AdvicePolicy
from costs.catalogue import PriceCatalogue
from inferwatch.config import Settings
from inferwatch.schema import Deployment
from inferwatch.schema import Metric as M
from inferwatch.store import KeptFigures, Store, to_epoch
from readmodels.costs import advice_end, load_advice

WINDOW_S = 900  # the Overview's default window (readmodels.overview.KEPT_WINDOWS_S[0])
WINDOW_TOPIC = f"window_{WINDOW_S}"
ADVICE_TOPIC = "advice"
# Estimated model quality per deployment ({"accuracy": 0.93, ...}), kept under this topic by the model
# quality work (quality/); the exporter serves whatever is kept here and nothing until then.
QUALITY_TOPIC = "quality"
ADVICE_DAYS = 7  # as `inferwatch advise`
ADVICE_REFRESH_S = 900  # advice over a week moves slowly; at 1,000 deployments it takes seconds to make

# Error causes: each counted apart (an out-of-memory kill is also a server error).
CAUSES: Mapping[str, M] = {"server_error": M.SERVER_ERRORS, "timeout": M.TIMEOUTS, "degraded": M.DEGRADED,
                           "client_error": M.CLIENT_ERRORS, "oom_kill": M.OOM_KILLS}
_SUMMED = (*CAUSES.values(), M.THROTTLES)
_PER_STEP = (M.CONCURRENCY_MAX, M.PROVISIONED_UTILIZATION, M.INSTANCES_ACTIVE)


def window_figures(store: Store, deployments: Sequence[Deployment], now: datetime,
                   window_s: int = WINDOW_S) -> KeptFigures:
    """Per deployment over [now - window_s, now): ``<cause>_count`` for each of :data:`CAUSES`,
    ``throttles_count``, ``concurrency_max``, ``warm_capacity`` (provisioned concurrency or min
    instances), ``warm_utilization_ratio`` (mean per step, as the WarmCapacityUnderused rule reads it)
    and ``slo_p99_ms`` when the deployment sets its own. Counts come summed by the database; the
    per-step metrics are a few rows per deployment."""
    start, end = now - timedelta(seconds=window_s), now + timedelta(seconds=60)
    sums = store.window_aggregates(metrics=list(_SUMMED), weight=M.INVOCATIONS, start=start, end=end)
    steps: dict[tuple[str, str], list[float]] = defaultdict(list)
    for dep, metric, _, value in store.metric_rows(metrics=list(_PER_STEP), start=start, end=end):
        steps[(dep, metric)].append(value)
    figures: dict[str, dict[str, float]] = {}
    for d in deployments:
        out: dict[str, float] = {}
        for cause, metric in CAUSES.items():
            found = sums.get((d.id, metric))
            out[f"{cause}_count"] = found.total if found else 0.0
        throttles = sums.get((d.id, M.THROTTLES))
        out["throttles_count"] = throttles.total if throttles else 0.0
        concurrency = steps.get((d.id, M.CONCURRENCY_MAX))
        if concurrency:
            out["concurrency_max"] = max(concurrency)
        capacity = d.provisioned_concurrency or d.min_instances
        out["warm_capacity"] = float(capacity)
        utilization = _warm_utilization(capacity, steps.get((d.id, M.PROVISIONED_UTILIZATION)),
                                        steps.get((d.id, M.INSTANCES_ACTIVE)))
        if utilization is not None:
            out["warm_utilization_ratio"] = utilization
        if d.slo_p99_ms is not None:
            out["slo_p99_ms"] = float(d.slo_p99_ms)
        figures[d.id] = out
    return KeptFigures(WINDOW_TOPIC if window_s == WINDOW_S else f"window_{window_s}", now,
                       now - timedelta(seconds=window_s), now, figures)


def _warm_utilization(capacity: int, ratios: Sequence[float] | None, active: Sequence[float] | None) -> float | None:
    """Mean utilisation of the warm capacity per step: AWS reports it; elsewhere active instances over
    the capacity (clipped to it). None without warm capacity or without data."""
    if capacity <= 0:
        return None
    if ratios:
        return sum(ratios) / len(ratios)
    if active:
        return sum(min(max(a, 0.0), capacity) / capacity for a in active) / len(active)
    return None


def advice_figures(store: Store, now: datetime, catalogue: PriceCatalogue, *, step_s: int,
                   policy: AdvicePolicy | None = None) -> KeptFigures:
    """Per deployment, the monthly saving (USD) of each kind of advice over the last week, as
    `inferwatch advise` gives it: ``{kind: saving}``, several pieces of one kind summed; negative where
    the advice costs more than it saves (more warm capacity to meet the cold-start SLO)."""
    end = advice_end(now, step_s)
    start = end - timedelta(days=ADVICE_DAYS)
    result = load_advice(store, start, end, catalogue, step_s=step_s, policy=policy)
    figures: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for a in result.advice:
        figures[a.deployment][a.kind] += a.monthly_saving_usd
    return KeptFigures(ADVICE_TOPIC, now, start, end, {dep: dict(kinds) for dep, kinds in figures.items()})


def advice_due(store: Store, now: datetime, refresh_s: int = ADVICE_REFRESH_S) -> bool:
    """True when no advice figures are kept or they are at least ``refresh_s`` old."""
    kept = store.load_kept_figures([ADVICE_TOPIC]).get(ADVICE_TOPIC)
    return kept is None or to_epoch(kept.computed_at) <= to_epoch(now, "now") - refresh_s


def record_exposition_figures(store: Store, settings: Settings, now: datetime, catalogue: PriceCatalogue, *,
                              policy: AdvicePolicy | None = None) -> list[str]:
    """Keep the window figures, and the advice figures when due (:func:`advice_due`); the topics kept.
    Collection calls this after each round that wrote data, beside the Overview's numbers."""
    items = [window_figures(store, store.load_deployments(), now)]
    if advice_due(store, now):
        items.append(advice_figures(store, now, catalogue, step_s=settings.collect.step_s, policy=policy))
    store.save_kept_figures(items)
    return [k.topic for k in items]
