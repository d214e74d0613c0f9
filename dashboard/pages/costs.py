"""Costs and advice: the weekly report's numbers (cost, predictions, cost per 1,000, week-over-week,
idle cost, billed gap), cost per prediction per version, the advice with its evidence, and the report
files as downloads. Runs inside app.py's navigation and alone (AppTest.from_file)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

# This page is named costs.py (app.py's navigation lists it so) and a script run alone has its own
# folder first on sys.path, where "costs" would resolve to this very file instead of the package.
_PAGES = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _PAGES]

from costs.advice import AdviceResult
from costs.advice_model import AdvicePolicy
from costs.catalogue import load_catalogue
from costs.errors import CostError
from costs.per_prediction import by_version
from costs.report import IsoWeek, WeeklyReport, render_csv, render_detail_csv, render_html, render_markdown
from costs.report_html import cost_per_1k_figure, daily_cost_figure
from dashboard import charts
from inferwatch.store import StoreError
from readmodels.costs import advice_end, load_advice, load_weekly_report
from shell.runtime import Runtime

CACHE_TTL_S = 60
WEEKS_SHOWN = 8
CHART_CONFIG = {"displaylogo": False}


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_runtime(home: str, config: str, store_url: str) -> Runtime:
    return Runtime.from_env()


def _runtime() -> Runtime:
    """Settings from the environment, re-read when the variables that locate them change."""
    env = os.environ
    return _cached_runtime(env.get("INFERWATCH_HOME", ""), env.get("INFERWATCH_CONFIG", ""),
                           env.get("INFERWATCH_STORE_URL", ""))


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_report(store_url: str, week_label: str, at: int) -> tuple[WeeklyReport, pd.DataFrame, AdviceResult]:
    """The week's report, its cost per prediction per service@version and day, and the advice over
    the week until the last complete collection step, from ``inferwatch advise``'s own function
    (``at`` is now, to a minute: it ages the cache)."""
    rt = _runtime()
    store = rt.open_store()
    week = IsoWeek.parse(week_label)
    try:
        catalogue = load_catalogue(rt.settings.prices)
        policy = AdvicePolicy(cold_start_rate_slo=rt.settings.slo.cold_start_rate)
        step_s = rt.settings.collect.step_s
        end = min(week.end, advice_end(datetime.fromtimestamp(at, tz=UTC), step_s))
        report = load_weekly_report(store, week, catalogue, step_s=step_s, policy=policy, now=end)
        advice = load_advice(store, week.start, max(end, week.start), catalogue, step_s=step_s, policy=policy)
        versions = by_version(report.daily, store.load_deployments(), step_s=86_400)
    finally:
        store.dispose()
    frame = pd.DataFrame([{"version": w.key, "day": w.start.date(), "cost_usd": w.cost.total_usd,
                           "predictions": w.rows, "cost_per_1k_usd": (1000 * w.cost.total_usd / w.rows)
                           if w.rows > 0 else None} for w in versions])
    return report, frame, advice


def _rows(report: WeeklyReport) -> pd.DataFrame:
    return pd.DataFrame([{
        "deployment": r.deployment, "version": r.model_version, "cost_usd": r.cost_usd,
        "prev_cost_usd": r.prev_cost_usd, "delta_pct": r.delta_pct, "predictions": r.predictions,
        "cost_per_1k_usd": r.cost_per_1k_usd, "idle_usd": r.cost.idle_usd, "billed_usd": r.billed_usd,
        "gap_usd": r.gap_usd, "status": r.status, "top_advice": r.top_advice or None,
        "saves_per_month_usd": r.top_saving_usd if r.top_advice else None} for r in report.rows])


def _file(report: WeeklyReport, render: Callable[[WeeklyReport], str]) -> Callable[[], str]:
    """Built only when the button is clicked."""
    return lambda: render(report)


def _downloads(report: WeeklyReport) -> None:
    files = [("Summary CSV", "summary.csv", "text/csv", render_csv),
             ("Detail CSV (estimate per day and component)", "detail.csv", "text/csv", render_detail_csv),
             ("Markdown", "md", "text/markdown", render_markdown),
             ("HTML report", "html", "text/html", render_html)]
    for column, (label, suffix, mime, render) in zip(st.columns(len(files)), files, strict=True):
        with column:
            st.download_button(label, data=_file(report, render),
                               file_name=f"{report.stem}.{suffix}", mime=mime, on_click="ignore",
                               key=f"download-{suffix}", icon=":material/download:")


def _advice(result: AdviceResult, week_label: str) -> None:
    st.subheader("Advice")
    if result.reason:
        st.info(f"No advice for {week_label} ({result.window_label}): {result.explanation}.",
                icon=":material/lightbulb:")
        return
    st.caption(f"From the metrics of {result.window_label}, extrapolated to a month; `inferwatch advise` "
               "prints the same.")
    for i, a in enumerate(result.advice):
        saving = (f"saves ${a.monthly_saving_usd:,.2f}/month" if a.monthly_saving_usd > 0 else
                  f"costs ${-a.monthly_saving_usd:,.2f}/month" if a.monthly_saving_usd < 0 else "information")
        with st.expander(f"{a.deployment} — {a.summary} ({saving}, {a.confidence} confidence)"):
            st.markdown(f"**Change:** {a.current} → {a.proposed}")
            st.markdown(f"**Latency:** {a.latency_effect}  \n**Cold starts:** {a.cold_start_effect}")
            st.dataframe(pd.DataFrame([{"evidence": e.name, "value": e.value, "unit": e.unit}
                                       for e in a.evidence]), hide_index=True, key=f"evidence-{i}",
                         placeholder=charts.MISSING)


st.title("Costs and advice")
st.caption("Cost per prediction from collected metrics and list prices (available minutes after the "
           "traffic), reconciled with billed costs where collected, and advice with its evidence.")

now = datetime.now(UTC)
weeks = [IsoWeek.containing(now - timedelta(days=7 * i)).label for i in range(WEEKS_SHOWN)]
try:  # a shared link may name an older week: ?week=2026-W47
    linked = IsoWeek.parse(st.query_params.get("week", "")).label
except CostError:
    linked = weeks[0]
if linked not in weeks:
    weeks.append(linked)
week_label = st.selectbox("Week", weeks, index=weeks.index(linked), key="costs-week",
                          help="ISO week, Monday 00:00 UTC to the next Monday; the current week is partial.")
st.query_params["week"] = week_label
try:
    rt = _runtime()
    report, versions, advice = load_report(rt.store_url, week_label, int(now.timestamp()) // CACHE_TTL_S * CACHE_TTL_S)
except (CostError, StoreError) as exc:
    st.error(f"Costs are unavailable: {exc}", icon=":material/error:")
    st.stop()

if report.is_empty:
    st.info(f"No cost data for {week_label} yet: no deployment reported invocations that week or the week "
            "before. Start the local demo with `make run` (or `inferwatch demo`), or collect from your "
            "accounts with `inferwatch collect`; costs appear minutes after the traffic.",
            icon=":material/payments:")
    st.stop()

prev = report.prev_total_usd
cols = st.columns(4)
cols[0].metric("Cost this week", f"${report.total_usd:,.2f}",
               delta=f"{report.total_usd - prev:+,.2f} USD" if prev > 0 else None, delta_color="inverse")
per_1k = 1000 * report.total_usd / report.total_predictions if report.total_predictions > 0 else None
cols[1].metric("Predictions", f"{report.total_predictions:,.0f}")
cols[2].metric("Cost per 1,000 predictions", f"${per_1k:,.4f}" if per_1k is not None else "-")
cols[3].metric("Idle warm capacity", f"${report.total_idle_usd:,.2f}")

st.plotly_chart(daily_cost_figure(report), config=CHART_CONFIG, key="costs-daily")
st.plotly_chart(cost_per_1k_figure(report), config=CHART_CONFIG, key="costs-per-1k")

st.subheader("Deployments")
st.dataframe(_rows(report), hide_index=True, width="stretch", key="costs-rows", placeholder=charts.MISSING,
             column_config={
    "cost_usd": st.column_config.NumberColumn("cost (USD)", format="%.4f"),
    "prev_cost_usd": st.column_config.NumberColumn("previous week", format="%.4f"),
    "delta_pct": st.column_config.NumberColumn("change %", format="%+.1f"),
    "cost_per_1k_usd": st.column_config.NumberColumn("per 1,000 (USD)", format="%.5f"),
    "idle_usd": st.column_config.NumberColumn("idle (USD)", format="%.4f"),
    "billed_usd": st.column_config.NumberColumn("billed (USD)", format="%.4f"),
    "gap_usd": st.column_config.NumberColumn("billed − estimate", format="%+.4f"),
    "saves_per_month_usd": st.column_config.NumberColumn("saves / month", format="%.2f")})

st.subheader("Cost per prediction by version")
st.dataframe(versions, hide_index=True, width="stretch", key="costs-versions", placeholder=charts.MISSING,
             column_config={
    "cost_usd": st.column_config.NumberColumn("cost (USD)", format="%.4f"),
    "cost_per_1k_usd": st.column_config.NumberColumn("per 1,000 (USD)", format="%.5f")})

_advice(advice, week_label)
if report.unpriced:
    st.warning("Not priced: " + "; ".join(f"{d} ({why})" for d, why in report.unpriced))

st.subheader("Report files")
_downloads(report)
st.caption("Prices: " + "; ".join(f"{s} {u} (checked {c})" for s, u, c in report.sources))
