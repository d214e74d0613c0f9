"""Overview: every deployment's health at a glance, worst first."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data
from dashboard.filters import current_filters

MAX_CHARTED = 8  # more traces than this stop being readable; the table holds the rest

st.title("Overview")
st.caption("Is anything wrong, and what does it cost? Every deployment, worst first; the page refreshes itself.")


@st.fragment(run_every=data.runtime().settings.dashboard.refresh_s)
def render_overview() -> None:
    filters = current_filters()
    at = data.now_bucket()
    overview = data.load_overview_frame(data.store_url(), min(filters.range_s, 3600), at)
    if filters.deployments and not overview.empty:
        overview = overview[overview["deployment"].isin(filters.deployments)]
    if overview.empty:
        st.info("No deployments yet. Run `make run` (or `inferwatch demo`) to start the local demo, or configure "
                "your AWS / Google Cloud deployments in inferwatch.toml and run `inferwatch collect`.")
        return
    render_kpis(overview)
    shown = overview.assign(health=overview["health"].map(charts.HEALTH_LABELS))
    st.dataframe(shown[charts.OVERVIEW_COLUMNS], hide_index=True, width="stretch",
                 column_config=charts.overview_column_config())
    worst = tuple(overview["deployment"].head(MAX_CHARTED))
    frame = data.load_metric_frame(data.store_url(), worst, ("latency_p99_ms", "invocations_count"),
                                   filters.range_s, at)
    if frame.empty:
        return
    slo = data.runtime().settings.slo.p99_ms
    window = data.time_window(filters.range_s, at)
    left, right = st.columns(2)
    with left:
        fig = charts.series_chart(frame[frame["metric"] == "latency_p99_ms"], title="p99 latency", y_title="ms",
                                  x_range=window)
        fig.add_hline(y=slo, line={"color": charts.COLOURS["threshold"], "dash": "dash"},
                      annotation_text=f"SLO {slo:.0f} ms")
        st.plotly_chart(fig, config=charts.CONFIG, key="overview-p99")
    with right:
        st.plotly_chart(charts.series_chart(frame[frame["metric"] == "invocations_count"], title="Invocations",
                                            y_title="per step", kind="bar", x_range=window), config=charts.CONFIG,
                        key="overview-invocations")


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
