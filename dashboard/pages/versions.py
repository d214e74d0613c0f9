"""Versions: blue/green, canary and shadow side by side, with a canary verdict and its evidence."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, data
from dashboard.filters import current_filters

st.title("Versions")
st.caption("Each service's versions side by side: traffic, latency, errors, prediction agreement, and whether "
           "the canary should be promoted, held or rolled back.")

filters = current_filters()
slo = data.runtime().settings.slo.p99_ms
services = data.load_versions(data.store_url(), filters.range_s, slo, data.now_bucket())
if not services:
    st.info("No versions to compare yet. The local demo serves v1 (stable, shadow-scoring v2) and v2 as a 10% "
            "canary: start it with `make run`.")
    st.stop()

DECISION_ICON = {"promote": ":material/check_circle:", "hold": ":material/pause_circle:",
                 "rollback": ":material/undo:"}
for service in services:
    st.subheader(f"Service {service.service}")
    table = pd.DataFrame([v.as_dict() | {"shadow_agreement": service.shadow_agreement.get(v.deployment)}
                          for v in service.versions])
    total = table["invocations"].sum()
    table["traffic_share"] = table["invocations"] / total if total else 0.0
    st.dataframe(table[["deployment", "role", "model_version", "invocations", "traffic_share", "p50_ms", "p99_ms",
                        "error_rate", "cold_start_rate", "shadow_agreement"]], hide_index=True, width="stretch",
                 placeholder=charts.MISSING,
                 column_config={"traffic_share": st.column_config.NumberColumn("traffic share", format="percent"),
                                "error_rate": st.column_config.NumberColumn("error rate", format="percent"),
                                "cold_start_rate": st.column_config.NumberColumn("cold starts", format="percent"),
                                "shadow_agreement": st.column_config.NumberColumn("shadow agreement", format="percent"),
                                "p50_ms": st.column_config.NumberColumn("p50 (ms)", format="%.1f"),
                                "p99_ms": st.column_config.NumberColumn("p99 (ms)", format="%.1f")})
    fig = go.Figure()
    for i, (_, row) in enumerate(table.iterrows()):
        colour = charts.PALETTE[i % len(charts.PALETTE)]
        fig.add_trace(go.Bar(name=row["deployment"], x=["p50", "p95", "p99"],
                             y=[row["p50_ms"], row["p95_ms"], row["p99_ms"]], marker_color=colour))
    fig.add_hline(y=slo, line={"color": charts.COLOURS["threshold"], "dash": "dash"}, annotation_text="SLO p99")
    st.plotly_chart(charts.base_layout(fig, title="Latency by version", y_title="latency (ms)"),
                    config=charts.CONFIG, key=f"versions-latency-{service.service}")
    for deployment, view in service.shadow.items():
        text = (f"**Shadow of {deployment}**: {view.statistic} between the served and the shadow "
                f"version's scores = {view.distance:.3f} (threshold {view.threshold:.2f}, "
                f"{view.distance_status}, n={view.n})" if view.distance is not None else
                f"**Shadow of {deployment}**: too few scores to compare distributions yet")
        if view.agreement is not None:
            a = view.agreement
            text += (f"; classes agree on {a.rate:.1%} of {a.n} rows "
                     f"(95% CI {a.ci_low:.1%}–{a.ci_high:.1%})")
        st.markdown(text)
    for deployment, verdict in service.verdicts.items():
        icon = DECISION_ICON[verdict.decision]
        box = {"promote": st.success, "hold": st.info, "rollback": st.error}[verdict.decision]
        box(f"**Canary {deployment}: {verdict.decision}** — " + "; ".join(verdict.reasons), icon=icon)
        with st.expander("Evidence"):
            st.json(dict(verdict.evidence))
