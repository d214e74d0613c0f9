"""Drift: baseline vs current distributions, effect sizes over time with threshold and noise band,
every signal sorted by effect, and the served version against its shadow.

This page only renders: the numbers come from drift/ (through readmodels.drift_status, the loader
the CLI and the alert job share) and the histogram overlays from ``drift.display``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, data
from dashboard.filters import current_filters
from drift import DriftError, DriftPolicy, SignalResult, UnreadableBaselineError
from drift.decision import SEVERITY, Status
from drift.display import Overlay
from readmodels.baselines import BaselineHealth, baseline_health
from readmodels.drift_status import DriftView, RecordedDrift, drift_view, load_recorded_drift

STATUS_COLOURS = {"ok": charts.COLOURS["ok"], "warn": charts.COLOURS["warn"], "drift": charts.COLOURS["bad"],
                  "insufficient_data": charts.COLOURS["neutral"], "no_data": charts.COLOURS["neutral"]}
STATUS_ICON = {"ok": "✅", "warn": "⚠️", "drift": "🔴", "insufficient_data": "➖", "no_data": "∅"}
WINDOW_CHOICES = {"5 min": 300, "15 min": 900, "1 h": 3600}
MAX_WINDOWS = 96


@st.cache_data(ttl=data.CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_drift_view(url: str, window_s: int, n_windows: int, deployment: str, at: int,
                    policy: DriftPolicy) -> DriftView | UnreadableBaselineError | None:
    """One deployment's decision with its history and overlays (readmodels.drift_status.drift_view)."""
    return drift_view(data.store(url), datetime.fromtimestamp(at, tz=UTC), deployment, window_s=window_s,
                      n_windows=n_windows, policy=policy)


@st.cache_data(ttl=data.CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_recorded(url: str, at: int) -> dict[str, RecordedDrift]:
    """The decisions collection recorded for every deployment (one row each), still current at ``at``."""
    return load_recorded_drift(data.store(url), datetime.fromtimestamp(at, tz=UTC))


@st.cache_data(ttl=data.CACHE_TTL_S, max_entries=4, show_spinner=False)
def load_unreadable_baselines(url: str, at: int) -> list[BaselineHealth]:
    """Every stored baseline that cannot be read, with its problem and the command that recreates it."""
    return [b for b in baseline_health(data.store(url)) if b.error is not None]


def _recorded_status(recorded: dict[str, RecordedDrift], deployment: str) -> str:
    found = recorded.get(deployment)
    return found.status if found is not None else ""


def _severity(recorded: dict[str, RecordedDrift], deployment: str) -> int:
    found = recorded.get(deployment)
    return SEVERITY[Status(found.status)] if found is not None else -1


def render_unreadable(baselines: list[BaselineHealth]) -> None:
    for b in baselines:
        if b.error is not None:
            st.error(f"Baseline **{b.id}** (model {b.model_version}) is unreadable: {b.error.problem}. Drift is "
                     f"unknown for the deployments it serves. Recreate it: `{b.error.remedy}`")


def render_fleet(recorded: dict[str, RecordedDrift], shown: list[str]) -> None:
    rows = [{"deployment": d, "status": f"{STATUS_ICON[r.status]} {r.status}",
             "signals": ", ".join(f"{x['signal']} ({x['status']})" for x in r.signals[:4])
                        + (f" +{len(r.signals) - 4}" if len(r.signals) > 4 else ""),
             "decided": r.evaluated_at, "windows": f"{r.n_windows} x {r.window_s // 60} min"}
            for d in shown if (r := recorded.get(d))]
    st.subheader("Every deployment: the latest decision")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", placeholder=charts.MISSING, key="drift_fleet",
                 column_config={"decided": st.column_config.DatetimeColumn("decided at (UTC)", format="HH:mm:ss")})


def render_overlay(ov: Overlay, *, title: str, names: tuple[str, str], key: str) -> None:
    fig = go.Figure()
    if ov.kind == "categorical":
        fig.add_trace(go.Bar(name=names[0], x=ov.labels, y=ov.reference_share,
                             marker_color=charts.COLOURS["baseline"]))
        fig.add_trace(go.Bar(name=names[1], x=ov.labels, y=ov.current_share, marker_color=charts.COLOURS["current"]))
        y_title = "share of predictions"
    else:
        mids = [(a + b) / 2 for a, b in zip(ov.left, ov.right, strict=True)]
        widths = [b - a for a, b in zip(ov.left, ov.right, strict=True)]
        fig.add_trace(go.Bar(name=names[0], x=mids, y=ov.reference_density, width=widths,
                             marker_color=charts.COLOURS["baseline"], opacity=0.55))
        fig.add_trace(go.Bar(name=names[1], x=mids, y=ov.current_density, width=widths,
                             marker_color=charts.COLOURS["current"], opacity=0.55))
        fig.update_layout(barmode="overlay", bargap=0)
        y_title = "density"
    fig.update_layout(barmode="overlay" if ov.kind == "numeric" else "group")
    st.plotly_chart(charts.base_layout(fig, title=title, y_title=y_title), config=charts.CONFIG, key=key)
    if ov.kind == "numeric" and (max(ov.below_range) > 0 or max(ov.above_range) > 0):
        st.caption(f"Outside the reference range: below {ov.below_range[1]:.2%}, above {ov.above_range[1]:.2%} "
                   f"of the current values (baseline {ov.below_range[0]:.2%} / {ov.above_range[0]:.2%}).")
    st.caption(f"N: {names[0]} {ov.n_reference:,}, {names[1]} {ov.n_current:,}")


def render_effect_over_time(view: DriftView, signal: str, check: str, key: str) -> None:
    rows = []
    for end, window in zip(view.window_ends, view.report.history, strict=True):
        for r in window:
            if r.signal == signal and r.check == check:
                rows.append({"end": end, **r.to_dict()})
    frame = pd.DataFrame(rows)
    if frame.empty:
        st.info("No windows for this signal yet.")
        return
    fig = go.Figure()
    floor = frame["noise_floor"].astype(float)
    fig.add_trace(go.Scatter(x=frame["end"], y=floor, mode="lines", line={"width": 0}, fill="tozeroy",
                             fillcolor=charts.COLOURS["noise"], name="noise floor (99% under no drift)"))
    fig.add_trace(go.Scatter(x=frame["end"], y=frame["effect"].astype(float), mode="lines+markers", name="effect",
                             line={"color": charts.COLOURS["current"]},
                             marker={"size": 9, "color": [STATUS_COLOURS[s] for s in frame["status"]]},
                             text=frame["status"], hovertemplate="%{y:.4g} (%{text})"))
    fig.add_hline(y=float(frame["threshold"].iloc[-1]), line={"color": charts.COLOURS["threshold"], "dash": "dash"},
                  annotation_text="drift threshold")
    if frame["warn_threshold"].iloc[-1] < frame["threshold"].iloc[-1]:
        fig.add_hline(y=float(frame["warn_threshold"].iloc[-1]), line={"color": charts.COLOURS["warn"], "dash": "dot"},
                      annotation_text="warn")
    title = f"{signal} {check}: {frame['statistic'].iloc[-1]} per window"
    st.plotly_chart(charts.base_layout(fig, title=title, y_title=str(frame["statistic"].iloc[-1])),
                    config=charts.CONFIG, key=key)


def signal_table(results: tuple[SignalResult, ...]) -> pd.DataFrame:
    frame = pd.DataFrame([r.to_dict() for r in results])
    frame["status"] = [f"{STATUS_ICON[s]} {s}" for s in frame["status"]]
    frame["effect / threshold"] = frame["effect"].astype(float) / frame["threshold"].astype(float)
    frame["psi"] = [r.get("psi") for r in frame["secondary"]]
    frame["ks"] = [r.get("ks") for r in frame["secondary"]]
    frame = frame.sort_values("effect / threshold", ascending=False, na_position="last")
    return frame[["signal", "check", "status", "statistic", "effect", "threshold", "noise_floor", "effect / threshold",
                  "p_value_adjusted", "n_current", "negligible", "psi", "ks", "detail"]]


st.title("Drift")
st.caption("Are the predictions and inputs still distributed like the baseline? A signal drifts when its effect "
           "size is above its threshold, above the noise expected for this many rows, significant after "
           "Benjamini-Hochberg, and persistent (m of the last n windows). p-values are shown with N.")

filters = current_filters()
render_unreadable(load_unreadable_baselines(data.store_url(), data.now_bucket()))
drift_settings = data.runtime().sections.drift  # validated with the rest of the config (one path)
labels = list(WINDOW_CHOICES)
default_label = next((k for k, v in WINDOW_CHOICES.items() if v == drift_settings.window_s), "15 min")
window_label = st.segmented_control("Window", labels, default=default_label, key="drift_window") or default_label
window_s = WINDOW_CHOICES[window_label]
n_windows = min(MAX_WINDOWS, max(drift_settings.windows, filters.range_s // window_s))
recorded = load_recorded(data.store_url(), data.now_bucket())
known = set(data.load_deployment_frame(data.store_url(), data.now_bucket())["id"])
candidates = sorted(known | set(recorded), key=lambda d: (-_severity(recorded, d), d))
if filters.deployments:
    candidates = [d for d in candidates if d in filters.deployments]
if not candidates:
    st.info("No drift data yet. Drift needs a baseline and prediction histograms: `inferwatch demo` (or "
            "`make run`) sets up both locally; for your own deployments run `inferwatch baseline create` and "
            "`inferwatch collect`.")
    st.stop()
if recorded:
    render_fleet(recorded, candidates)

# One deployment at a time: deciding every window of every deployment on each render would take
# seconds at fifty deployments; the table above holds the decisions collection already made.
deployment = st.selectbox("Deployment", candidates, key="drift_deployment",
                          format_func=lambda d: f"{STATUS_ICON.get(_recorded_status(recorded, d), '·')} {d}")
try:
    view = load_drift_view(data.store_url(), window_s, n_windows, deployment, data.now_bucket(), drift_settings.policy)
except DriftError as exc:
    st.error(f"Drift could not be computed: {exc}")
    st.stop()
if view is None:
    st.info(f"No drift data for {deployment} in the last {n_windows} x {window_label}: drift needs a baseline for its "
            "model version (`inferwatch baseline create`) and prediction histograms from `inferwatch collect`.")
    st.stop()

if isinstance(view, UnreadableBaselineError):
    st.error(f"Drift of {deployment} is unknown: {view}")
    st.stop()
report = view.report
results = report.results
c1, c2, c3, c4 = st.columns(4)
c1.metric("status", f"{STATUS_ICON[report.status.value]} {report.status.value}")
c2.metric("signals drifting", sum(r.status is Status.DRIFT for r in results))
c3.metric("model version", report.model_version)
c4.metric("windows", f"{len(report.history)} x {window_label}")
st.caption(f"Baseline {view.baseline_id} (model sha256 {report.model_sha256[:12]}...)")

signals = sorted({r.signal for r in results}, key=lambda s: (s not in ("score", "class"), s))
left, right = st.columns(2)
with left:
    signal = st.selectbox("Signal", signals, key="drift_signal")
with right:
    checks = [r.check for r in results if r.signal == signal]
    check = st.selectbox("Check", checks, key="drift_check")

if signal in view.overlays:
    render_overlay(view.overlays[signal], title=f"{signal}: baseline vs the last {window_label}",
                   names=("baseline", "current"), key=f"drift-overlay-{deployment}-{signal}")
else:
    st.info(f"No {signal} values in the last {window_label} window (no_data).")
render_effect_over_time(view, signal, check, key=f"drift-time-{deployment}-{signal}-{check}")

st.subheader("Every signal, largest effect first")
st.dataframe(signal_table(results), hide_index=True, width="stretch", placeholder=charts.MISSING, column_config={
    "effect": st.column_config.NumberColumn(format="%.4f"), "threshold": st.column_config.NumberColumn(format="%.4f"),
    "noise_floor": st.column_config.NumberColumn("noise floor", format="%.4f"),
    "effect / threshold": st.column_config.ProgressColumn(min_value=0.0, max_value=2.0, format="%.2f"),
    "p_value_adjusted": st.column_config.NumberColumn("p (BH)", format="%.2g"),
    "n_current": st.column_config.NumberColumn("N", format="%d"),
    "psi": st.column_config.NumberColumn(format="%.4f"), "ks": st.column_config.NumberColumn(format="%.4f")})

st.subheader("Version against version")
if not view.shadow:
    st.info("No shadow predictions for this deployment. Set a shadow version (INFERWATCH_SHADOW_VERSION; the local "
            "demo's scorer-v1 shadows v2) to compare versions on the same inputs.")
for item in view.shadow:
    r = item.distribution
    effect = "-" if r.effect is None else round(r.effect, 4)
    text = (f"**{item.signal}**: {item.current_version} vs {item.reference_version} — "
            f"{STATUS_ICON[r.status.value]} {r.status.value}, {r.statistic} {effect}"
            f" (threshold {r.threshold}, N={r.n_current:,})")
    if item.agreement:
        a = item.agreement
        text += f"; agreement {a.rate:.1%} [{a.ci_low:.1%}, {a.ci_high:.1%}] over {a.n:,} rows"
    st.markdown(text)
    if item.signal in view.shadow_overlays:
        render_overlay(view.shadow_overlays[item.signal], title=f"{item.signal}: served vs shadow",
                       names=(f"served {item.reference_version}", "shadow"),
                       key=f"drift-shadow-{deployment}-{item.signal}")
