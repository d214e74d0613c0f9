"""The banner every page shows when a source is stale or failing."""

from __future__ import annotations

import streamlit as st

from dashboard import data


def render_source_banner() -> None:
    sources = data.load_source_frame(data.store_url(), data.now_bucket())
    if sources.empty:
        return
    limit = data.stale_after_s()
    failing = sources[sources["state"] == "failing"]
    stale = sources[(sources["staleness_s"].isna()) | (sources["staleness_s"] > limit)]
    if not failing.empty:
        names = ", ".join(failing["collector"])
        st.error(f"Collection failing: {names}. Numbers from these sources are not current — see Sources.",
                 icon=":material/cloud_off:")
    elif not stale.empty:
        names = ", ".join(stale["collector"])
        st.warning(f"Stale data: {names} last collected more than {limit / 60:.0f} min ago — see Sources.",
                   icon=":material/schedule:")
