"""The Model health view of one deployment: estimated and realised quality per window against the
baseline's level (``readmodels.quality``), and in the same windows the drift signals with the largest
effects (``readmodels.drift_status``), which are what explains a drop: the inputs that moved, or the
score distribution itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from drift import DriftError, DriftPolicy, SignalResult, UnreadableBaselineError
from inferwatch.store import Store
from readmodels.drift_status import decide_drift
from readmodels.quality import DeploymentQuality, deployment_quality

SIGNALS_PER_WINDOW = 3


@dataclass(frozen=True, slots=True)
class SignalEffect:
    """One drift check in one window: its effect size over its threshold (above 1 breaches)."""

    signal: str
    check: str
    status: str
    effect: float
    effect_ratio: float


@dataclass(frozen=True, slots=True)
class HealthView:
    """Quality per window and, per window (the same ones, oldest first), the drift checks with the
    largest effects relative to their thresholds; ``drift_note`` says why there are none."""

    quality: DeploymentQuality
    drift: tuple[tuple[SignalEffect, ...], ...]
    drift_note: str = ""


def _largest(results: Sequence[SignalResult]) -> tuple[SignalEffect, ...]:
    effects = [SignalEffect(r.signal, r.check, r.status.value, r.effect, r.effect / r.threshold)
               for r in results if r.effect is not None and r.threshold > 0]
    return tuple(sorted(effects, key=lambda e: -e.effect_ratio)[:SIGNALS_PER_WINDOW])


def model_health(store: Store, now: datetime, deployment: str, *, window_s: int, n_windows: int,
                 policy: DriftPolicy | None = None) -> HealthView | UnreadableBaselineError | None:
    """One deployment's :class:`HealthView`; the error naming its baseline when that cannot be read;
    None when it has neither score histograms nor labels in the period."""
    quality = deployment_quality(store, now, deployment, window_s=window_s, n_windows=n_windows)
    if quality is None or isinstance(quality, UnreadableBaselineError):
        return quality
    try:
        decided = decide_drift(store, now, window_s=window_s, n_windows=n_windows, deployments=[deployment],
                               policy=policy)
    except DriftError as exc:
        return HealthView(quality, (), f"drift unknown: {exc}")
    found = decided.decided.get(deployment)
    if found is None:
        note = str(decided.unreadable[deployment]) if deployment in decided.unreadable else "no drift data"
        return HealthView(quality, (), note)
    history = found.report.history[-n_windows:]
    return HealthView(quality, tuple(_largest(window) for window in history))
