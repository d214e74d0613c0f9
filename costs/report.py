"""The weekly cost report: :func:`build_weekly_report` is pure (records in, a report out); the
renderers turn one report into CSV (spreadsheet-safe), Markdown or a self-contained HTML file.

Period: an ISO week, Monday 00:00 UTC to the next Monday (exclusive). Rows are sorted by the size of
their week-over-week change so the biggest movers come first; a ``TOTAL`` row closes the CSV.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from costs.advice import top_advice
from costs.advice_model import Advice
from costs.catalogue import PriceCatalogue
from costs.per_prediction import CostWindow, DeploymentSeries, TimeWindow, estimate_costs, reconcile
from costs.pricing import CostBreakdown
from costs.report_html import render_html
from costs.report_markdown import render_markdown
from costs.report_model import IsoWeek, ReportRow, WeeklyReport
from inferwatch.schema import CostRecord, Deployment, MetricPoint

__all__ = [
    "IsoWeek",
    "ReportRow",
    "WeeklyReport",
    "build_weekly_report",
    "csv_text",
    "neutralize",
    "render_csv",
    "render_detail_csv",
    "render_html",
    "render_markdown",
]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def _sum_cost(windows: Iterable[CostWindow]) -> tuple[CostBreakdown, float, float]:
    cost, rows, inv = CostBreakdown(), 0.0, 0.0
    for w in windows:
        cost, rows, inv = cost + w.cost, rows + w.rows, inv + w.invocations
    return cost, rows, inv


def build_weekly_report(
    week: IsoWeek,
    deployments: Sequence[Deployment],
    this_week: Iterable[MetricPoint] | Sequence[DeploymentSeries],
    previous_week: Iterable[MetricPoint] | Sequence[DeploymentSeries],
    catalogue: PriceCatalogue,
    *,
    cost_records: Iterable[CostRecord] = (),
    advice: Sequence[Advice] = (),
    windows: tuple[TimeWindow | None, TimeWindow | None] = (None, None),
) -> WeeklyReport:
    """Build the report of one ISO week.

    Parameters
    ----------
    week
        The week reported.
    deployments
        Configurations of the deployments.
    this_week, previous_week
        Metric points of the week and of the week before (hourly roll-ups keep this fast), or
        their :func:`costs.per_prediction.group_series`.
    catalogue
        Prices.
    cost_records
        Billed costs of the week, reconciled per deployment where present.
    advice
        Advice computed over the week; the biggest saving per deployment is shown.
    windows
        The part of this week and of the week before that the points stand for (from where their
        metrics begin; this week until now), so capacity billed by time is priced for that part only.

    Returns
    -------
    WeeklyReport
        Empty rows when no deployment had data in either week (an explicit empty state).
    """
    now = estimate_costs(deployments, this_week, catalogue, rollup_s=86_400, window=windows[0])
    before = estimate_costs(deployments, previous_week, catalogue, rollup_s=86_400, window=windows[1])
    prev: dict[str, float] = defaultdict(float)
    for w in before.windows:
        prev[w.key] += w.cost.total_usd
    billed: dict[str, float] = defaultdict(float)
    for rec in reconcile(now.windows, [r for r in cost_records if week.start <= r.day < week.end]):
        billed[rec.scope] += rec.billed_usd
    rows = _rows(deployments, now.windows, prev, billed, top_advice(advice))
    unpriced = tuple(sorted(set(now.unpriced) | set(before.unpriced)))
    return WeeklyReport(week, tuple(rows), tuple(now.windows), tuple(advice), unpriced, catalogue.sources)


def _rows(deployments: Sequence[Deployment], daily: Sequence[CostWindow], prev: Mapping[str, float],
          billed: Mapping[str, float], best: Mapping[str, Advice]) -> list[ReportRow]:
    """One row per deployment with data in either week, biggest change first."""
    by_dep: dict[str, list[CostWindow]] = defaultdict(list)
    for w in daily:
        by_dep[w.key].append(w)
    rows = []
    for d in deployments:
        if d.id not in by_dep and d.id not in prev:
            continue
        cost, predictions, invocations = _sum_cost(by_dep.get(d.id, ()))
        days = len(by_dep.get(d.id, ()))
        status = ("removed" if d.id not in by_dep else "new" if d.id not in prev
                  else "partial" if days < 7 else "ok")
        top = best.get(d.id)
        rows.append(ReportRow(
            d.id, d.name, d.provider, d.region, d.service, d.model_version, cost, prev.get(d.id),
            predictions, invocations, days, billed.get(d.id), status,
            top.summary if top else "", top.monthly_saving_usd if top else 0.0))
    rows.sort(key=lambda r: (-abs(r.delta_usd if r.delta_usd is not None else r.cost_usd), r.deployment))
    return rows


# -- rendering -----------------------------------------------------------------------------------


def neutralize(value: str) -> str:
    """Guard a text cell against spreadsheet formula injection (OWASP: prefix a quote)."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def csv_text(value: str) -> str:
    """A text cell: formula-guarded, and line breaks made spaces (a lone CR is not quoted by the csv
    module when the line terminator is LF, so it would split the row in a reader)."""
    return " ".join(neutralize(value).replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def _num(value: float | None, digits: int = 6) -> str:
    if value is None:
        return ""
    return f"{0.0 if abs(value) < 0.5 * 10 ** -digits else value:.{digits}f}"  # no "-0.000000"


SUMMARY_COLUMNS = (
    "week", "deployment", "name", "provider", "region", "service", "model_version", "cost_usd",
    "prev_cost_usd", "delta_usd", "delta_pct", "share_pct", "predictions", "invocations",
    "cost_per_1k_predictions_usd", "idle_usd", "warm_capacity_usd", "billed_usd", "gap_usd", "days_with_data",
    "status", "top_advice", "top_advice_saving_usd_month",
)


def render_csv(report: WeeklyReport) -> str:
    """The summary CSV: one row per deployment and a TOTAL row; text cells guarded, numbers raw."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for r in report.rows:
        text = [report.week.label, r.deployment, r.name, r.provider, r.region, r.service, r.model_version]
        writer.writerow([csv_text(t) for t in text] + [
            _num(r.cost_usd), _num(r.prev_cost_usd), _num(r.delta_usd), _num(r.delta_pct, 2),
            _num(report.share_pct(r), 2), _num(r.predictions, 0), _num(r.invocations, 0),
            _num(r.cost_per_1k_usd), _num(r.cost.idle_usd), _num(r.cost.warm_capacity_usd), _num(r.billed_usd),
            _num(r.gap_usd), str(r.days_with_data), csv_text(r.status), csv_text(r.top_advice),
            _num(r.top_saving_usd, 2)])
    total_prev = report.prev_total_usd
    total_delta_pct = 100.0 * (report.total_usd - total_prev) / total_prev if total_prev > 0 else None
    per_1k = 1000.0 * report.total_usd / report.total_predictions if report.total_predictions > 0 else None
    writer.writerow([report.week.label, "TOTAL", "", "", "", "", "", _num(report.total_usd), _num(total_prev),
                     _num(report.total_usd - total_prev), _num(total_delta_pct, 2), _num(100.0 if report.rows else None,
                                                                                         2),
                     _num(report.total_predictions, 0), _num(sum(r.invocations for r in report.rows), 0),
                     _num(per_1k), _num(report.total_idle_usd),
                     _num(sum(r.cost.warm_capacity_usd for r in report.rows)), "", "", "", "", "",
                     _num(sum(r.top_saving_usd for r in report.rows), 2)])
    return buf.getvalue()


# Estimates, not billing data: no FOCUS column names. FOCUS 1.0 requires a billing account, an invoice
# issuer and an invoiced (billed) cost on every row, and none of them is known from metrics and list
# prices (the local emulator has no account at all); see README, "Weekly cost report".
DETAIL_COLUMNS = (
    "period_start", "period_end", "provider", "service", "region", "deployment", "name", "cost_component",
    "estimated_cost_usd", "invocations", "predictions", "cost_per_1k_predictions_usd",
)
_COMPONENTS = ("request", "compute", "init", "restore", "warm_capacity")
_SERVICE = {"aws": "AWS Lambda", "gcp": "Cloud Run", "local": "Local emulator (priced as AWS Lambda)"}


def render_detail_csv(report: WeeklyReport) -> str:
    """The estimated cost detail: one row per day x deployment x cost component, at list prices from
    the collected metrics (free tiers, credits and discounts not applied)."""
    rows = {r.deployment: r for r in report.rows}
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(DETAIL_COLUMNS)
    for w in report.daily:
        r = rows.get(w.key)
        if r is None:
            continue
        end = w.start + timedelta(seconds=w.step_s)
        per_1k = _num(1000.0 * w.cost.total_usd / w.rows if w.rows > 0 else None)
        for component in _COMPONENTS:
            writer.writerow([w.start.isoformat(), end.isoformat(), csv_text(r.provider),
                             _SERVICE.get(r.provider, r.provider), csv_text(r.region), csv_text(r.deployment),
                             csv_text(r.name), component, _num(getattr(w.cost, f"{component}_usd")),
                             _num(w.invocations, 0), _num(w.rows, 0), per_1k])
    return buf.getvalue()
