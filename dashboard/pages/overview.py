"""Overview: every deployment's health at a glance, worst first."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data
from dashboard.filters import DEFAULT_RANGE, current_filters
from dashboard.status_table import render_table_html

# Every deployment gets its trends as sparklines in its row: the landing page loads no chart library
# (the Deployment page has the full charts), and shows all deployments' trends, not just a few. A
# sparkline is 72 px wide: 60 points are more than a pixel each.
TREND_POINTS = 60

st.title("Overview")
st.caption("Is anything wrong, and what does it cost? Every deployment, worst first; the page refreshes itself.")


@st.fragment(run_every=data.runtime().settings.dashboard.refresh_s)
def render_overview() -> None:
    filters = current_filters()
    at = data.now_bucket()
    window_s = min(filters.range_s, 3600)
    overview, as_of = data.load_overview_frame(data.store_url(), window_s, at)
    if filters.deployments and not overview.empty:
        overview = overview[overview["deployment"].isin(filters.deployments)]
    if overview.empty:
        st.info("No deployments yet. Run `make run` (or `inferwatch demo`) to start the local demo, or configure "
                "your AWS / Google Cloud deployments in inferwatch.toml and run `inferwatch collect`.")
        return
    render_kpis(overview)
    trends = data.load_trends(data.store_url(), tuple(overview["deployment"]), charts.TREND_METRICS,
                              filters.range_s, at, TREND_POINTS)
    start, end = data.time_window(filters.range_s, at)
    keep = [("range", filters.range_label)] if filters.range_label != DEFAULT_RANGE else []
    keep += [("deployment", dep) for dep in filters.deployments]
    st.html(render_table_html(overview, trends, (start.timestamp(), end.timestamp()), data.runtime().settings.slo,
                              range_label=filters.range_label, link_params=keep))
    step = data.resolution_for(filters.range_s, TREND_POINTS)
    st.caption(f"Numbers cover the {charts.format_duration(window_s)} to {as_of:%H:%M:%S} UTC; trends the "
               f"picked range ({filters.range_label}, one point per {charts.format_duration(step)}). Open a "
               "deployment on the Deployment page for its full charts: each name links there.")


def render_kpis(overview) -> None:  # type: ignore[no-untyped-def]
    cols = st.columns(4)
    unhealthy = int((overview["health"] != "ok").sum())
    cols[0].metric("deployments", len(overview), f"{unhealthy} need attention" if unhealthy else "all healthy",
                   delta_color="inverse" if unhealthy else "off")
    cols[1].metric("invocations", f"{int(overview['invocations'].sum()):,}")
    cols[2].metric("firing alerts", int(overview["firing_alerts"].sum()))
    cost = overview["cost_usd"].sum(min_count=1)
    cols[3].metric("cost in window", charts.format_usd(cost, 4))


render_overview()
