"""The time range and deployment filter every page shares, kept in the URL so links are shareable."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

RANGES: dict[str, int] = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
DEFAULT_RANGE = "1h"


@dataclass(frozen=True)
class Filters:
    range_label: str
    range_s: int
    deployments: tuple[str, ...]  # empty = all


def _sync(key: str, value: str) -> None:
    if value:
        st.query_params[key] = value
    elif key in st.query_params:
        del st.query_params[key]


def render_filters(all_deployments: list[str]) -> Filters:
    """Sidebar widgets seeded from the URL; changes write back to the URL."""
    params = st.query_params
    label = params.get("range", DEFAULT_RANGE)
    if label not in RANGES:
        label = DEFAULT_RANGE
    chosen = [d for d in params.get_all("deployment") if d in all_deployments]
    with st.sidebar:
        label = st.radio("Time range", list(RANGES), index=list(RANGES).index(label), horizontal=True,
                         key="range_picker")
        chosen = st.multiselect("Deployments", all_deployments, default=chosen, key="deployment_filter",
                                placeholder="All deployments")
    _sync("range", label if label != DEFAULT_RANGE else "")
    st.query_params["deployment"] = chosen
    return Filters(label, RANGES[label], tuple(chosen))


def current_filters() -> Filters:
    """The filters as the sidebar last set them (pages call this; app.py renders the widgets)."""
    stored = st.session_state.get("_inferwatch_filters")
    if isinstance(stored, Filters):
        return stored
    label = st.query_params.get("range", DEFAULT_RANGE)
    label = label if label in RANGES else DEFAULT_RANGE
    return Filters(label, RANGES[label], tuple(st.query_params.get_all("deployment")))
