"""Deployment: one deployment in depth — latency, cold starts, errors by cause, capacity, memory."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.filters import current_filters

st.title("Deployment")

deployments = data.load_deployment_frame(data.store_url(), data.now_bucket(60))
if deployments.empty:
    st.info("No deployments yet. Start the local demo with `make run`, or configure deployments in "
            "inferwatch.toml and run `inferwatch collect`.")
    st.stop()

filters = current_filters()
choices = list(filters.deployments) or sorted(deployments["id"])
wanted = st.query_params.get("d")
chosen = st.selectbox("Deployment", choices, index=choices.index(wanted) if wanted in choices else 0,
                      key="deployment_pick")
st.query_params["d"] = chosen
info = deployments[deployments["id"] == chosen].iloc[0]
st.caption(f"{info['provider']} · service {info['service']} · model {info['model_version'] or '—'} · "
           f"role {info['role']} · "
           f"{charts.format_mb(info['memory_mb'])} · {info['architecture']}")

GROUPS = {
    "latency": ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"),
    "cold": ("cold_starts_count", "restores_count"),
    "init": ("init_avg_ms", "init_max_ms", "restore_avg_ms", "restore_max_ms"),
    "billed_restore": ("billed_restore_sum_ms",),
    "errors": ("server_errors_count", "timeouts_count", "degraded_count", "client_errors_count", "throttles_count"),
    "capacity": ("concurrency_max_count", "instances_active_count", "instances_idle_count",
                 "provisioned_concurrency_count"),
    "utilization": ("provisioned_utilization_ratio",),
    "memory": ("memory_max_used_mb", "memory_configured_mb"),
}


@st.fragment(run_every=data.runtime().settings.dashboard.refresh_s)
def render_deployment() -> None:
    at = data.now_bucket()
    metrics = tuple(m for group in GROUPS.values() for m in group)
    frame = data.load_metric_frame(data.store_url(), (chosen,), metrics, filters.range_s, at)
    if frame.empty:
        st.info(f"No data for {chosen} in the last {filters.range_label}. Pick a longer time range in the sidebar.")
        return

    window = data.time_window(filters.range_s, at)

    def part(group: str) -> pd.DataFrame:
        return frame[frame["metric"].isin(GROUPS[group])]

    slo = info["slo_p99_ms"] if info["slo_p99_ms"] == info["slo_p99_ms"] and info["slo_p99_ms"] else (
        data.runtime().settings.slo.p99_ms)
    st.plotly_chart(charts.latency_chart(part("latency"), title="Latency percentiles", slo_ms=slo, x_range=window),
                    config=charts.CONFIG, key="dep-latency")
    render_cold_starts(part, window)
    st.plotly_chart(charts.series_chart(part("errors"), title="Errors by cause", y_title="requests", by="metric",
                                        kind="bar", x_range=window), config=charts.CONFIG, key="dep-errors")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(charts.series_chart(part("capacity"), title="Concurrency and warm capacity",
                                            y_title="instances / requests", by="metric", x_range=window),
                        config=charts.CONFIG, key="dep-capacity")
    with right:
        st.plotly_chart(charts.series_chart(part("memory"), title="Memory used against configured", y_title="MB",
                                            by="metric", x_range=window), config=charts.CONFIG, key="dep-memory")
    if not part("utilization").empty:
        st.plotly_chart(charts.series_chart(part("utilization"), title="Provisioned concurrency utilisation",
                                            y_title="ratio", by="metric", x_range=window),
                        config=charts.CONFIG, key="dep-util")


def render_cold_starts(part: Callable[[str], pd.DataFrame], window: charts.TimeRange) -> None:
    """Cold starts of both kinds side by side: on-demand inits and SnapStart restores (a restore
    is a cold start too, with its own duration and its own billed time), never one average."""
    left, right = st.columns(2)
    with left:
        st.plotly_chart(charts.series_chart(part("cold"), title="Cold starts and SnapStart restores",
                                            y_title="cold starts", by="metric", kind="grouped", x_range=window),
                        config=charts.CONFIG, key="dep-cold")
    with right:
        st.plotly_chart(charts.series_chart(part("init"), title="Init and restore duration", y_title="ms",
                                            by="metric", x_range=window), config=charts.CONFIG, key="dep-init")
    if not part("billed_restore").empty:
        st.plotly_chart(charts.series_chart(part("billed_restore"), title="SnapStart restore time billed",
                                            y_title="ms", by="metric", kind="bar", x_range=window),
                        config=charts.CONFIG, key="dep-restore-billed")


render_deployment()
