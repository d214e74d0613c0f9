"""Reading what costs/ needs from the store. The store is passed in (no environment, no clock), so
the CLI, the dashboard and the benchmark share one path from records to numbers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from costs.advice import AdviceResult, advise_window
from costs.advice_model import Advice, AdvicePolicy
from costs.catalogue import PriceCatalogue
from costs.per_prediction import COST_METRICS, estimate_costs, group_series, series_from_rows
from costs.report import build_weekly_report
from costs.report_model import IsoWeek, WeeklyReport
from costs.usage import ADVICE_METRICS, DETAIL_METRICS, Usage, summarize_usage
from inferwatch.schema import CostRecord, Deployment, Metric, MetricPoint, floor_time

ROLLUP_S = 3600  # advice works on hourly roll-ups computed by the database
DAY_S = 86_400  # the weekly report prices daily roll-ups: warm capacity at each day's peak level
HOURLY_ONLY_METRICS = {Metric.LATENCY_P95.value, Metric.CONCURRENCY_MAX.value}


class CostSource(Protocol):
    """The part of :class:`inferwatch.store.Store` that costs/ reads."""

    def load_deployments(self) -> list[Deployment]: ...

    def load_metrics(self, *, deployments: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                     start: datetime | None = None, end: datetime | None = None, step_s: int = 60,
                     resolution_s: int | None = None) -> list[MetricPoint]: ...

    def metric_rows(self, *, deployments: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                    start: datetime | None = None, end: datetime | None = None, step_s: int = 60,
                    resolution_s: int | None = None) -> list[tuple[str, str, int, float]]: ...

    def load_costs(self, *, start: datetime | None = None, end: datetime | None = None) -> list[CostRecord]: ...

    def metric_span(self, *, metrics: Sequence[str], start: datetime, end: datetime,
                    step_s: int = 60) -> tuple[datetime, datetime] | None: ...


def advice_end(now: datetime, step_s: int) -> datetime:
    """Where advice windows end by default: at the end of the last complete collection step (not at
    the hour, so a demo minutes old already has metrics in its window)."""
    return floor_time(now, step_s)


def observed_window(store: CostSource, start: datetime, end: datetime, *,
                    step_s: int = 60) -> tuple[datetime, datetime] | None:
    """The part of [start, end) that holds metrics, from its first step to the end of its last (None:
    there are none; collectors write idle steps as zero traffic, so a gap is not idleness). A month is
    extrapolated from that part, not from the whole window: a demo started five minutes ago, or
    monitoring switched on mid-week, would otherwise look almost free."""
    if end <= start:
        return None
    return store.metric_span(metrics=ADVICE_METRICS, start=start, end=end, step_s=step_s)


def load_usage(store: CostSource, start: datetime, end: datetime, catalogue: PriceCatalogue, *,
               step_s: int = 60, deployments: Sequence[Deployment] | None = None) -> list[Usage]:
    """Usage of every deployment in [start, end) from hourly roll-ups of ``step_s`` points."""
    deployments = store.load_deployments() if deployments is None else deployments
    points = store.load_metrics(metrics=ADVICE_METRICS, start=start, end=end, step_s=step_s,
                                resolution_s=max(ROLLUP_S, step_s))
    return summarize_usage(deployments, points, catalogue, period_s=(end - start).total_seconds(),
                           window=(start, end))


def load_advice(store: CostSource, start: datetime, end: datetime, catalogue: PriceCatalogue, *,
                step_s: int = 60, policy: AdvicePolicy | None = None,
                memory_options: Mapping[str, Sequence[tuple[float, float, str]]] | None = None) -> AdviceResult:
    """All advice over the part of [start, end) that holds metrics, biggest saving first, or why there
    is none: what `inferwatch advise` prints and the Costs page shows."""
    observed = observed_window(store, start, end, step_s=step_s)
    if observed is None:
        return advise_window([], catalogue, policy, start=start, end=end)
    first, last = observed
    usage = load_usage(store, first, last, catalogue, step_s=step_s)
    return advise_window(usage, catalogue, policy, start=first, end=last, memory_options=memory_options)


def load_weekly_report(store: CostSource, week: IsoWeek, catalogue: PriceCatalogue, *, step_s: int = 60,
                       policy: AdvicePolicy | None = None,
                       memory_options: Mapping[str, Sequence[tuple[float, float, str]]] | None = None,
                       now: datetime | None = None) -> WeeklyReport:
    """The weekly report of ``week`` (with the week before for the change) from the store. Its advice
    extrapolates a month from the part of the week that holds metrics (of the current week, until
    ``now``: the end of the last complete step), as :func:`load_advice` does."""
    deployments = store.load_deployments()
    # Totals from daily roll-ups, distributions (utilisation, concurrency, bursts) from hourly ones:
    # a fraction of the rows of reading everything hourly.
    daily = max(DAY_S, step_s)
    this_week = group_series(store.load_metrics(
        metrics=[m for m in ADVICE_METRICS if m not in HOURLY_ONLY_METRICS], start=week.start, end=week.end,
        step_s=step_s, resolution_s=daily))
    hourly = group_series(store.load_metrics(metrics=DETAIL_METRICS, start=week.start, end=week.end,
                                             step_s=step_s, resolution_s=max(ROLLUP_S, step_s)))
    previous = week.previous()
    before = store.load_metrics(metrics=COST_METRICS, start=previous.start, end=previous.end, step_s=step_s,
                                resolution_s=daily)
    this_window = observed_window(store, week.start, min(week.end, now) if now else week.end, step_s=step_s)
    advice: tuple[Advice, ...] = ()
    if this_window is not None:
        first, last = this_window
        usage = summarize_usage(deployments, this_week, catalogue, period_s=(last - first).total_seconds(),
                                detail=hourly, window=this_window)
        advice = advise_window(usage, catalogue, policy, start=first, end=last, memory_options=memory_options).advice
    records = store.load_costs(start=week.start, end=week.end)
    windows = (this_window, observed_window(store, previous.start, previous.end, step_s=step_s))
    return build_weekly_report(week, deployments, this_week, before, catalogue, cost_records=records,
                               advice=advice, windows=windows)


def window_costs(store: CostSource, deployments: Sequence[Deployment], start: datetime, end: datetime,
                 catalogue: PriceCatalogue, *, step_s: int = 60,
                 resolution_s: int | None = None) -> dict[str, tuple[float, float]]:
    """Estimated cost (USD) and predictions per deployment over [start, end): the overview's
    $ per 1k predictions and the alert job's cost-per-prediction rule read this one sum."""
    rows = store.metric_rows(deployments=[d.id for d in deployments], metrics=COST_METRICS, step_s=step_s,
                             start=start, end=end, resolution_s=resolution_s)
    series = series_from_rows(rows, max(step_s, resolution_s or 0))
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for w in estimate_costs(deployments, series, catalogue).windows:
        totals[w.key][0] += w.cost.total_usd
        totals[w.key][1] += w.rows
    return {key: (usd, rows) for key, (usd, rows) in totals.items()}
