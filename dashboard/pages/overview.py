"""Overview: every deployment's health at a glance, worst first."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data
from dashboard.filters import current_filters

st.title("Overview")
st.caption("Is anything wrong, and what does it cost? Latest numbers per deployment; the page refreshes itself.")


@st.fragment(run_every=data.runtime().settings.dashboard.refresh_s)
def render_overview() -> None:
    filters = current_filters()
    at = data.now_bucket()
    status = data.load_status_frame(data.store_url(), min(filters.range_s, 3600), at)
    if filters.deployments and not status.empty:
        status = status[status["deployment"].isin(filters.deployments)]
    if status.empty:
        st.info("No deployments yet. Run `make run` (or `inferwatch demo`) to start the local demo, or configure "
                "your AWS / Google Cloud deployments in inferwatch.toml and run `inferwatch collect`.")
        return
    status = status.assign(_rank=status["error_rate"].fillna(0) * 1000 + status["p99_ms"].fillna(0))
    status = status.sort_values("_rank", ascending=False)
    cols = st.columns(min(4, len(status)))
    for col, (_, row) in zip(cols * (len(status) // len(cols) + 1), status.iterrows(), strict=False):
        with col, st.container(border=True):
            st.markdown(f"**{row['deployment']}**  \n{row['role']} · model {row['model_version'] or '—'}")
            st.metric("p99 latency", charts.format_ms(row["p99_ms"]))
            st.metric("invocations", f"{int(row['invocations']):,}")
            st.caption(f"p50 {charts.format_ms(row['p50_ms'])} · p95 {charts.format_ms(row['p95_ms'])} · "
                       f"errors {charts.format_pct(row['error_rate'])} · "
                       f"cold starts {charts.format_pct(row['cold_start_rate'])}")
    table = status[["deployment", "role", "model_version", "invocations", "p50_ms", "p95_ms", "p99_ms",
                    "error_rate", "cold_start_rate"]]
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "p50_ms": st.column_config.NumberColumn("p50 (ms)", format="%.1f"),
        "p95_ms": st.column_config.NumberColumn("p95 (ms)", format="%.1f"),
        "p99_ms": st.column_config.NumberColumn("p99 (ms)", format="%.1f"),
        "error_rate": st.column_config.NumberColumn("error rate", format="percent"),
        "cold_start_rate": st.column_config.NumberColumn("cold-start rate", format="percent"),
    })
    frame = data.load_metric_frame(data.store_url(), tuple(status["deployment"]), ("latency_p50_ms", "latency_p95_ms",
                                                                 "latency_p99_ms"), filters.range_s, at)
    slo = data.runtime().settings.slo.p99_ms
    for deployment in status["deployment"]:
        part = frame[frame["deployment"] == deployment]
        if not part.empty:
            st.plotly_chart(charts.latency_chart(part, title=f"Latency — {deployment}", slo_ms=slo),
                            config=charts.CONFIG, key=f"latency-{deployment}")


render_overview()
