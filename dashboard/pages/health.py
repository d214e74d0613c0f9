"""Model health: estimated quality over time with its band (no labels needed), realised quality where
labels arrived, the baseline's level, and the drift signals with the largest effects in the same
windows, which are what explains a drop.

This page only renders: the numbers come from readmodels.model_health (quality from
readmodels.quality, the loader `inferwatch quality check` and the alert job share; drift from
readmodels.drift_status).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.filters import current_filters
from drift import DriftError, DriftPolicy, UnreadableBaselineError
from quality import PerformanceEstimate, QualityError
from readmodels.model_health import HealthView, model_health
from readmodels.quality import QualityWindow

WINDOW_CHOICES = {"5 min": 300, "15 min": 900, "1 h": 3600}
MAX_WINDOWS = 96
MEANINGS = {"top_class": "top-class scores: accuracy is what they can tell",
            "positive_class": "positive-class scores: accuracy, precision, recall, F1 and ROC AUC"}


@st.cache_data(ttl=data.CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_health(url: str, deployment: str, window_s: int, n_windows: int, at: int,
                policy: DriftPolicy) -> HealthView | UnreadableBaselineError | None:
    """One deployment's quality per window and the drift that explains it (readmodels.model_health)."""
    return model_health(data.store(url), datetime.fromtimestamp(at, tz=UTC), deployment, window_s=window_s,
                        n_windows=n_windows, policy=policy)


def _metric(estimate: PerformanceEstimate | None, name: str) -> tuple[float | None, float | None, float | None]:
    for m in estimate.metrics if estimate is not None else ():
        if m.metric == name:
            return m.value, m.low, m.high
    return None, None, None


def window_frame(view: HealthView, metric: str) -> pd.DataFrame:
    rows = []
    for i, w in enumerate(view.quality.windows):
        est, low, high = _metric(w.estimate, metric)
        real, real_low, real_high = _metric(w.realised, metric)
        signals = view.drift[i] if i < len(view.drift) else ()
        rows.append({"end": w.end, "estimated": est, "estimated_low": low, "estimated_high": high,
                     "estimated_n": w.estimate.n if w.estimate else None, "realised": real,
                     "realised_low": real_low, "realised_high": real_high,
                     "realised_n": w.realised.n if w.realised else None,
                     "drift": ", ".join(f"{s.signal}{'' if s.check == 'distribution' else ' ' + s.check} "
                                        f"{s.effect_ratio:.1f}x ({s.status})" for s in signals),
                     "note": w.note})
    return pd.DataFrame(rows)


def _metrics_of(windows: tuple[QualityWindow, ...]) -> list[str]:
    names = {m.metric for w in windows for e in (w.estimate, w.realised) if e is not None for m in e.metrics}
    preferred = ("accuracy", "roc_auc", "precision", "recall", "f1", "mae", "rmse", "bias")
    return sorted(names, key=lambda n: (preferred.index(n) if n in preferred else len(preferred), n))


def render_summary(view: HealthView, metric: str, frame: pd.DataFrame) -> None:
    q = view.quality
    level = q.baseline_level.get(metric)
    latest_est = frame.dropna(subset=["estimated"]).tail(1)
    latest_real = frame.dropna(subset=["realised"]).tail(1)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("model", f"{q.model_version or '—'} ({q.kind})")
    c2.metric(f"baseline {metric}", charts.MISSING if level is None else f"{level:.3f}")
    if latest_est.empty:
        c3.metric(f"estimated {metric}", charts.MISSING)
    else:
        row = latest_est.iloc[0]
        delta = None if level is None else f"{row['estimated'] - level:+.3f} vs baseline"
        c3.metric(f"estimated {metric}", f"{row['estimated']:.3f}", delta=delta)
    if latest_real.empty:
        c4.metric(f"realised {metric}", charts.MISSING, help="`inferwatch labels ingest FILE` adds labels")
    else:
        row = latest_real.iloc[0]
        delta = None if level is None else f"{row['realised'] - level:+.3f} vs baseline"
        c4.metric(f"realised {metric}", f"{row['realised']:.3f}", delta=delta)
    meaning = MEANINGS.get(q.score_meaning or "", "a regressor: realised errors only, from labels")
    if q.calibration is not None:
        c = q.calibration
        calibration = (f"calibrated on {c.labelled_count} labelled reference rows (expected calibration error "
                       f"{c.expected_calibration_error:.3f}, {'within' if c.calibrated else 'beyond'} noise)")
    else:
        calibration = "no labelled reference: estimates take the scores as probabilities"
    st.caption(f"Baseline {q.baseline_id or '—'}: {meaning}; {calibration}.")


st.title("Model health")
st.caption("Is the model still as good as on its baseline? Estimated quality needs no labels: the baseline's "
           "calibration turns each window's score histogram into expected accuracy with a 95% band. Realised "
           "quality comes from labels that arrive later (`inferwatch labels ingest`). The drift columns name "
           "the signals that moved most in the same windows.")

filters = current_filters()
drift_settings = data.runtime().sections.drift
default_label = next((k for k, v in WINDOW_CHOICES.items() if v == drift_settings.window_s), "15 min")
window_label = st.segmented_control("Window", list(WINDOW_CHOICES), default=default_label,
                                    key="health_window") or default_label
window_s = WINDOW_CHOICES[window_label]
n_windows = min(MAX_WINDOWS, max(drift_settings.windows, filters.range_s // window_s))
candidates = sorted(data.load_deployment_frame(data.store_url(), data.now_bucket())["id"])
if filters.deployments:
    candidates = [d for d in candidates if d in filters.deployments]
if not candidates:
    st.info("No deployments yet. `inferwatch demo` (or `make run`) serves the reference models with calibrated "
            "baselines; for your own, `inferwatch baseline create` and `inferwatch collect`.")
    st.stop()
deployment = st.selectbox("Deployment", candidates, key="health_deployment")
try:
    view = load_health(data.store_url(), deployment, window_s, n_windows, data.now_bucket(), drift_settings.policy)
except (QualityError, DriftError) as exc:
    st.error(f"Model health could not be computed: {exc}")
    st.stop()
if view is None:
    st.info(f"No quality data for {deployment} in the last {n_windows} x {window_label}: estimates need a baseline "
            "for its model version and score histograms from `inferwatch collect`; realised quality needs labels.")
    st.stop()
if isinstance(view, UnreadableBaselineError):
    st.error(f"Model health of {deployment} is unknown: {view}")
    st.stop()

metrics = _metrics_of(view.quality.windows)
if not metrics:
    st.info(f"No estimate or realised quality for {deployment} in these windows: "
            + "; ".join(sorted({w.note for w in view.quality.windows if w.note})))
    st.stop()
metric = st.selectbox("Metric", metrics, key="health_metric")
frame = window_frame(view, metric)
render_summary(view, metric, frame)
st.plotly_chart(charts.quality_chart(frame, title=f"{metric} per {window_label} window", metric=metric,
                                     baseline=view.quality.baseline_level.get(metric)),
                config=charts.CONFIG, key=f"health-{deployment}-{metric}")
if view.drift_note:
    st.caption(f"Drift: {view.drift_note}")
st.subheader("Every window: quality and the drift beside it")
st.dataframe(frame.iloc[::-1], hide_index=True, width="stretch", placeholder=charts.MISSING, key="health_windows",
             column_config={
                 "end": st.column_config.DatetimeColumn("window end (UTC)", format="HH:mm"),
                 "estimated": st.column_config.NumberColumn(f"estimated {metric}", format="%.3f"),
                 "estimated_low": st.column_config.NumberColumn("low (95%)", format="%.3f"),
                 "estimated_high": st.column_config.NumberColumn("high (95%)", format="%.3f"),
                 "estimated_n": st.column_config.NumberColumn("rows", format="%d"),
                 "realised": st.column_config.NumberColumn(f"realised {metric}", format="%.3f"),
                 "realised_low": st.column_config.NumberColumn("low (95%)", format="%.3f"),
                 "realised_high": st.column_config.NumberColumn("high (95%)", format="%.3f"),
                 "realised_n": st.column_config.NumberColumn("labelled rows", format="%d"),
                 "drift": st.column_config.TextColumn("largest drift effects (x threshold)"),
                 "note": st.column_config.TextColumn("note")})
