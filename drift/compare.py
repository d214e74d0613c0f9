"""Baseline vs windows: the drift report.

``compare(baseline, windows)`` evaluates every signal of the baseline in every window given (oldest
first), adjusts the p-values of each window across all its checks (Benjamini-Hochberg), and gates
the last window's statuses on persistence over the last ``persistence_n`` windows. Signals missing
from a window are ``no_data`` there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from drift.baseline import Baseline
from drift.checks import RawCheck, evaluate_window
from drift.decision import SEVERITY, DriftPolicy, Status, benjamini_hochberg, gated_status
from drift.errors import InvalidInputError
from drift.window import WindowCounts

Window = Mapping[str, WindowCounts]


@dataclass(frozen=True, slots=True)
class SignalResult:
    """One check of one signal in one window, decided.

    ``effect``, ``noise_floor``, ``p_value`` and ``p_value_adjusted`` are None (never NaN) when the
    check could not run (``status`` is then no_data or insufficient_data, ``detail`` says why).
    ``threshold`` is the level the effect had to exceed in this window to breach: the larger of the
    effect ``floor`` and the 99.9% level under no drift for these sample sizes (calibrated on the
    baseline); ``warn_threshold`` the same with the 99% level (``noise_floor``); ``immediate_threshold``
    the level above which a breach is drift at once, without persistence. Without a computed window
    (no data) they are the floor. ``negligible`` marks an effect at or below the floor, whatever its
    p-value says. ``breaches`` counts the windows among the last ``persistence_n`` that breached.
    """

    signal: str
    check: str  # distribution | nan_rate | inf_rate | out_of_range | null_rate
    statistic: str
    effect: float | None
    warn_threshold: float
    threshold: float
    noise_floor: float | None
    p_value: float | None
    p_value_adjusted: float | None
    n_reference: int
    n_current: int
    status: Status
    negligible: bool
    breaches: int
    detail: str
    secondary: Mapping[str, float]
    floor: float | None = None
    immediate_threshold: float | None = None
    calibration: Mapping[str, float] = field(default_factory=dict)  # between_window_excess, noise_inflation

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["secondary"] = dict(self.secondary)
        data["calibration"] = dict(self.calibration)
        return data


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Results of the last window (``results``) and of every window (``history``, oldest first)."""

    model_version: str
    model_sha256: str
    policy: DriftPolicy
    results: tuple[SignalResult, ...]
    history: tuple[tuple[SignalResult, ...], ...]

    @property
    def status(self) -> Status:
        """The most severe status among the last window's checks (ok when there are none)."""
        return max((r.status for r in self.results), key=SEVERITY.__getitem__, default=Status.OK)

    @property
    def drifted(self) -> bool:
        return any(r.status is Status.DRIFT for r in self.results)

    def result(self, signal: str, check: str = "distribution") -> SignalResult:
        for r in self.results:
            if r.signal == signal and r.check == check:
                return r
        raise InvalidInputError("signal", f"no {check} result for {signal!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"model_version": self.model_version, "model_sha256": self.model_sha256,
                "status": self.status.value, "drifted": self.drifted,
                "results": [r.to_dict() for r in self.results],
                "history": [[r.to_dict() for r in window] for window in self.history]}


def _adjust(raw: list[RawCheck]) -> list[float | None]:
    idx = [i for i, c in enumerate(raw) if c.p_value is not None]
    adjusted = benjamini_hochberg([raw[i].p_value for i in idx])  # type: ignore[misc]
    out: list[float | None] = [None] * len(raw)
    for i, value in zip(idx, adjusted, strict=True):
        out[i] = value
    return out


@dataclass(frozen=True, slots=True)
class _Levels:
    warn: float
    breach: float
    immediate: float


def _levels(check: RawCheck, policy: DriftPolicy) -> _Levels | None:
    if check.effect is None or check.noise_floor is None or check.breach_level is None:
        return None
    breach = max(check.floor, check.breach_level)
    immediate = max(check.floor, policy.immediate_factor * check.breach_level)
    return _Levels(max(check.floor, check.noise_floor), breach, immediate)


def _breach(check: RawCheck, p_adj: float | None, policy: DriftPolicy) -> bool:
    levels = _levels(check, policy)
    if levels is None or p_adj is None or check.effect is None:
        return False
    return p_adj < policy.alpha and check.effect > levels.breach


def _evaluate(baseline: Baseline, window: Window, policy: DriftPolicy) -> list[tuple[RawCheck, float | None]]:
    unknown = set(window) - set(baseline.columns)
    if unknown:
        raise InvalidInputError("windows", f"signals not in the baseline: {sorted(unknown)}")
    raw: list[RawCheck] = []
    for name, column in baseline.columns.items():
        counts = window.get(name) or WindowCounts.empty(column)
        raw.extend(evaluate_window(column, counts, policy))
    return list(zip(raw, _adjust(raw), strict=True))


def _decide(check: RawCheck, p_adj: float | None, drift_history: list[bool], policy: DriftPolicy) -> SignalResult:
    levels = _levels(check, policy)
    effect = check.effect
    if check.skip is not None:
        status = Status(check.skip)
    else:
        assert levels is not None and effect is not None
        significant = p_adj is not None and p_adj < policy.alpha
        warn = significant and effect > levels.warn
        status = gated_status(drift_history, warn, policy, immediate=effect > levels.immediate)
    negligible = effect is not None and effect <= check.floor
    return SignalResult(
        signal=check.signal, check=check.check, statistic=check.statistic, effect=effect,
        warn_threshold=levels.warn if levels else check.floor, threshold=levels.breach if levels else check.floor,
        noise_floor=check.noise_floor,
        p_value=check.p_value, p_value_adjusted=p_adj, n_reference=check.n_reference,
        n_current=check.n_current, status=status, negligible=negligible,
        breaches=sum(drift_history[-policy.persistence_n:]), detail=check.detail, secondary=check.secondary,
        floor=check.floor, immediate_threshold=levels.immediate if levels else None, calibration=check.calibration,
    )


def compare(baseline: Baseline, windows: Sequence[Window], *, policy: DriftPolicy | None = None) -> DriftReport:
    """Compare windows of counts (oldest first) with a baseline.

    Parameters
    ----------
    baseline
        The reference.
    windows
        One mapping per window from signal name to its ``WindowCounts``; the last is the current one.
    policy
        Thresholds, statistics, BH level, minimum rows and persistence (default ``DriftPolicy()``).

    Returns
    -------
    DriftReport

    Raises
    ------
    InvalidInputError
        No windows, or a signal that is not in the baseline.
    IncompatibleBinsError
        Counts made over another baseline's bins.
    """
    policy = policy or DriftPolicy()
    if isinstance(windows, Mapping) or not windows:
        raise InvalidInputError("windows", "give a non-empty sequence of windows (signal -> WindowCounts)")
    histories: dict[tuple[str, str], list[bool]] = {}
    decided: list[tuple[SignalResult, ...]] = []
    for window in windows:
        row: list[SignalResult] = []
        for check, p_adj in _evaluate(baseline, window, policy):
            history = histories.setdefault((check.signal, check.check), [])
            history.append(_breach(check, p_adj, policy))
            row.append(_decide(check, p_adj, history, policy))
        decided.append(tuple(row))
    return DriftReport(baseline.version, baseline.model_sha256, policy, decided[-1], tuple(decided))


def compare_values(baseline: Baseline, signals: Mapping[str, object], *,
                   policy: DriftPolicy | None = None) -> DriftReport:
    """Count raw values per signal over the baseline's bins and compare them as one window."""
    window = {name: WindowCounts.from_values(baseline.column(name), values) for name, values in signals.items()}
    return compare(baseline, [window], policy=policy)


def decide_single(raw: Sequence[RawCheck], policy: DriftPolicy) -> tuple[SignalResult, ...]:
    """Decide one window's checks on their own (BH across them, no persistence history)."""
    checks = list(raw)
    return tuple(_decide(c, p, [_breach(c, p, policy)], policy) for c, p in zip(checks, _adjust(checks), strict=True))
