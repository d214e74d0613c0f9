"""Alerts: what is firing or pending now, what changed, and what could not be delivered.

Runs inside app.py and alone (``streamlit run dashboard/pages/alerts.py``, AppTest.from_file).
It renders what the alert job recorded; it evaluates nothing itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import charts, data
from inferwatch.store import Store

CACHE_TTL_S = 15
ACTIVE_STATES = ("firing", "pending", "nodata", "error")


@st.cache_resource(show_spinner=False, max_entries=8)
def _alert_store(url: str) -> Store:
    """The store with the alert tables created (the page may be the first to touch them)."""
    store = data.store(url)
    store.create_schema()
    return store


def _ts(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(int(epoch), tz=UTC) if epoch is not None else None


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_active_frame(url: str, at: int) -> pd.DataFrame:
    rows = [{"state": s.state, "severity": s.severity, "rule": s.rule, "target": s.entity, "since": _ts(s.since_s),
             "value": s.value, "flapping": s.flapping, "summary": s.summary}
            for s in _alert_store(url).load_alert_states().values() if s.state in ACTIVE_STATES]
    frame = pd.DataFrame(rows, columns=["state", "severity", "rule", "target", "since", "value", "flapping", "summary"])
    order = {"firing": 0, "error": 1, "nodata": 2, "pending": 3}
    return frame.sort_values(["state", "since"], key=lambda c: c.map(order) if c.name == "state" else c)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_history_frame(url: str, at: int) -> pd.DataFrame:
    rows = [{"at": _ts(e["at"]), "rule": e["rule"], "target": e["entity"], "from": e["from_state"],
             "to": e["to_state"], "value": e["value"], "summary": e["summary"]}
            for e in _alert_store(url).load_alert_events(limit=200)]
    return pd.DataFrame(rows, columns=["at", "rule", "target", "from", "to", "value", "summary"])


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_outbox_frame(url: str, at: int) -> pd.DataFrame:
    store = _alert_store(url)
    rows = [{"status": m.status, "receiver": m.receiver, "group": m.group, "alerts": len(m.payload.get("alerts", [])),
             "attempts": m.attempts, "created": _ts(m.created_at_s), "next attempt": _ts(m.next_attempt_at_s),
             "last error": m.last_error, "id": m.id}
            for status in ("dead", "pending") for m in store.load_outbox(status=status, limit=200)]
    return pd.DataFrame(rows, columns=["status", "receiver", "group", "alerts", "attempts", "created",
                                       "next attempt", "last error", "id"])


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_last_run(url: str, at: int) -> dict[str, object] | None:
    runs = _alert_store(url).load_alert_runs(limit=1)
    return runs[0] if runs else None


def render_kpis(active: pd.DataFrame, box: pd.DataFrame, last_run: dict[str, object] | None, now_s: int) -> None:
    cols = st.columns(5)
    cols[0].metric("firing", int((active["state"] == "firing").sum()))
    cols[1].metric("pending", int((active["state"] == "pending").sum()))
    cols[2].metric("no data / error", int(active["state"].isin(("nodata", "error")).sum()))
    cols[3].metric("undelivered", int((box["status"] == "pending").sum()))
    cols[4].metric("dead letters", int((box["status"] == "dead").sum()))
    if last_run is not None:
        age_s = now_s - int(str(last_run["finished_at"]))
        text = f"Last alert run {age_s} s ago, exit code {last_run['exit_code']}: {last_run['message']}"
        (st.caption if last_run["exit_code"] == 0 and age_s < 900 else st.warning)(text)


st.title("Alerts")
st.caption("Firing and pending alerts, their history, and notifications still queued or dead-lettered. "
           "Written by `inferwatch alerts run` (the demo runs it every minute).")


@st.fragment(run_every=data.runtime().settings.dashboard.refresh_s)
def render_alerts() -> None:
    url, at = data.store_url(), data.now_bucket(CACHE_TTL_S)
    active, history, box = load_active_frame(url, at), load_history_frame(url, at), load_outbox_frame(url, at)
    last_run = load_last_run(url, at)
    if last_run is None and history.empty and box.empty:
        st.info("No alert run yet. Schedule `inferwatch alerts run` every minute (cron, systemd timer, "
                "EventBridge Scheduler or Cloud Scheduler: see docs/alerts.md), or start `inferwatch demo`, "
                "which runs it for you. Check your rules with `inferwatch alerts test FILE`.")
        return
    render_kpis(active, box, last_run, at)
    st.subheader("Firing and pending")
    if active.empty:
        st.success("Nothing is firing or pending.")
    else:
        st.dataframe(active, hide_index=True, width="stretch", placeholder=charts.MISSING,
                     column_config={"since": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
    st.subheader("Outbox and dead letters")
    if box.empty:
        st.caption("Every notification was delivered.")
    else:
        st.dataframe(box, hide_index=True, width="stretch", placeholder=charts.MISSING)
        st.caption("Dead letters are kept; requeue one with `inferwatch alerts outbox --retry ID`.")
    st.subheader("History")
    st.dataframe(history, hide_index=True, width="stretch", placeholder=charts.MISSING)


render_alerts()
