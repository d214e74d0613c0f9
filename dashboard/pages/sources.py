"""Sources: each collector's last run, staleness and errors, and the configuration in use."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data
from inferwatch.store import redact

st.title("Sources")
st.caption("Where the numbers come from, how fresh they are, and what went wrong.")

sources = data.load_source_frame(data.store_url(), data.now_bucket())
rt = data.runtime()
if sources.empty:
    st.info("No collection has run yet. `inferwatch demo` collects every 10 s; against your clouds, schedule "
            "`inferwatch collect` (e.g. every 5 minutes) and check credentials with `inferwatch config check`.")
else:
    st.dataframe(sources, hide_index=True, width="stretch", placeholder=charts.MISSING, column_config={
        "staleness_s": st.column_config.NumberColumn("age of last success (s)", format="%.0f"),
        "consecutive_failures": st.column_config.NumberColumn("failures in a row"),
        "quarantined": st.column_config.NumberColumn("quarantined inputs", format="%d"),
        "host": st.column_config.TextColumn("collected by (host)"),
    })
    for _, row in sources[sources["last_error"].notna()].iterrows():
        st.error(f"**{row['collector']}**: {row['last_error']}")
    quarantined = int(sources["quarantined"].sum())
    if quarantined:
        st.warning(f"{quarantined:,} inputs were quarantined: telemetry lines that are not well-formed or are "
                   "dated outside [collect] max_age_s / max_ahead_s. They were not stored; the rest was. "
                   "The newest are listed below.")
        with st.expander("Quarantined inputs (newest first)"):
            st.dataframe(data.load_quarantine_frame(data.store_url(), data.now_bucket()), hide_index=True,
                         width="stretch", column_config={
                             "source": "file", "position": st.column_config.NumberColumn("byte offset", format="%d"),
                             "first_seen": st.column_config.DatetimeColumn("seen (UTC)")})

st.subheader("Configuration")
st.markdown(f"- config file: `{rt.settings.source_path or 'none (built-in local demo defaults)'}`\n"
            f"- store: `{redact(rt.store_url)}`\n"
            f"- collection step: {rt.settings.collect.step_s} s, re-read lateness {rt.settings.collect.lateness_s} s")
deployments = [{"provider": d.provider, "deployment": getattr(d, "name", None) or getattr(d, "function", None)
                or getattr(d, "service_name", None), "role": d.role.value} for d in rt.settings.deployments]
st.dataframe(deployments, hide_index=True, width="stretch", placeholder=charts.MISSING)
