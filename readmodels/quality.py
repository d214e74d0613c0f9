"""Model quality per window, from the store: estimated without labels from the score histograms the
collectors keep, realised from the labels ``inferwatch labels ingest`` stored, beside the baseline's own.

The one path the CLI (``inferwatch quality check``), the alert job (``quality_below`` rules), the
dashboard's Model health page and the Prometheus gauges share:

- :func:`load_quality` -- every deployment with score histograms or labels over the last
  ``n_windows`` windows of ``window_s``, each a :class:`DeploymentQuality` (its windows oldest first);
- :func:`deployment_quality` -- the same for one deployment;
- :func:`latest_quality` -- per deployment, the newest window only (what a rule or a gauge reads).

Windows are cut as drift cuts them (``readmodels.drift_status.window_index``). The estimate of a
window merges its ``score`` counts over the baseline they were counted with (the newest, after a model
change) and uses that baseline's label calibration when it has one (``quality.estimate_from_scores``:
accuracy from top-class scores, every binary metric from positive-class scores). Regressors get no
estimate (confidence says nothing about a regression's error), only realised MAE, RMSE and bias.
A deployment whose baseline cannot be read is listed apart, as for drift.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce

from drift import NumericColumn, UnreadableBaselineError, WindowCounts, merge_all
from inferwatch.schema import HistogramPoint, LabelStep
from inferwatch.store import Store
from quality import (
    POSITIVE_CLASS,
    TOP_CLASS,
    CalibrationCheck,
    ClassifierLabels,
    PerformanceEstimate,
    QualityError,
    RegressorLabels,
    calibration_check,
    estimate_from_scores,
    label_calibration,
    pooled,
    realised_classifier,
    realised_regressor,
    score_meaning,
)
from readmodels.baselines import read_baseline
from readmodels.drift_status import window_index
from readmodels.label_aggregates import CLASSIFIER, REGRESSOR, UNKNOWN, baseline_kind, classifier_signals


@dataclass(frozen=True, slots=True)
class QualityWindow:
    """One window [start, end): the estimate (None without score counts, or for a regressor) and the
    realised quality (None without labels); ``note`` says why one is missing or what it left out."""

    start: datetime
    end: datetime
    estimate: PerformanceEstimate | None
    realised: PerformanceEstimate | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class DeploymentQuality:
    """Quality of one deployment over its windows, against its baseline's level.

    ``kind`` is binary, multiclass or regressor; ``score_meaning`` top_class or positive_class (None for
    regressors); ``reference`` the baseline's own realised quality on its labelled reference rows and
    ``calibration`` the check of its scores against those labels (both None without a label calibration).
    ``baseline_level`` is what a floor "below the baseline" is measured from: the reference's realised
    metrics when it has labels, else the estimate of its own score histogram (its raw confidence); empty
    for a regressor.
    """

    deployment: str
    model_version: str
    baseline_id: str
    kind: str
    score_meaning: str | None
    reference: PerformanceEstimate | None
    calibration: CalibrationCheck | None
    windows: tuple[QualityWindow, ...]
    window_s: int
    baseline_level: Mapping[str, float]

    @property
    def latest(self) -> QualityWindow | None:
        return self.windows[-1] if self.windows else None


@dataclass(frozen=True, slots=True)
class QualityLoad:
    """Quality of every deployment with data, and those whose baseline cannot be read."""

    deployments: dict[str, DeploymentQuality]
    unreadable: dict[str, UnreadableBaselineError]


@dataclass(frozen=True, slots=True)
class _Model:
    """The baseline a deployment's quality is measured against (classifiers), or none (regressors)."""

    baseline_id: str
    model_version: str
    kind: str
    column: NumericColumn | None = None
    classes: tuple[str, ...] = ()
    calibration: ClassifierLabels | None = None

    @property
    def score_meaning(self) -> str | None:
        return None if self.column is None else score_meaning(self.column, self.classes)

    @property
    def positive_scores(self) -> bool:
        return self.score_meaning == POSITIVE_CLASS


def _bounds(end: datetime, window_s: int, n_windows: int) -> list[tuple[datetime, datetime]]:
    return [(end - timedelta(seconds=window_s * (n_windows - i)),
             end - timedelta(seconds=window_s * (n_windows - 1 - i))) for i in range(n_windows)]


def _model(store: Store, baseline_id: str, fallback_version: str) -> _Model | None:
    """The model behind ``baseline_id`` (a regressor's is ""); None when that baseline is no longer in
    the store; raises UnreadableBaselineError naming a corrupted one."""
    baseline = read_baseline(store, baseline_id) if baseline_id else None
    if baseline_id and baseline is None:
        return None
    signals = classifier_signals(baseline) if baseline is not None else None
    if baseline is None or signals is None:
        return _Model(baseline_id, baseline.version if baseline else fallback_version, baseline_kind(baseline))
    return _Model(baseline_id, baseline.version, CLASSIFIER, signals[0], signals[1], label_calibration(baseline))


def _kind(model: _Model) -> str:
    """binary, multiclass, regressor, or unknown (a baseline with a score but no classes: no estimate)."""
    if model.kind != CLASSIFIER:
        return model.kind
    return "binary" if len(model.classes) == 2 else "multiclass"


def _estimate(model: _Model, points: Sequence[HistogramPoint]) -> tuple[PerformanceEstimate | None, str]:
    counts = [WindowCounts.from_dict(p.counts) for p in points if p.baseline_id == model.baseline_id]
    if model.kind == UNKNOWN:
        return None, "no estimate: the baseline has a score but no class signal"
    if model.column is None:
        return None, ""
    if not counts or merge_all(counts).finite_count == 0:
        return None, "no scores in this window"
    try:
        return estimate_from_scores(merge_all(counts), model.column, model.classes, model.calibration), ""
    except QualityError as exc:
        return None, f"no estimate: {exc}"


def _realised(store: Store, steps: Sequence[LabelStep], models: dict[str, _Model], fallback_version: str
              ) -> tuple[PerformanceEstimate | None, str]:
    """Realised quality of a window's label steps (the baseline with the most labelled rows, if several)."""
    if not steps:
        return None, ""
    by_baseline: dict[tuple[str, str], list[LabelStep]] = defaultdict(list)
    for s in steps:
        by_baseline[(s.kind, s.baseline_id)].append(s)
    (kind, bid), chosen = max(by_baseline.items(), key=lambda kv: sum(s.row_count for s in kv[1]))
    left_out = sum(s.row_count for s in steps) - sum(s.row_count for s in chosen)
    note = f"{left_out} labels under another baseline left out" if left_out else ""
    try:
        if kind == REGRESSOR:
            merged_r = reduce(RegressorLabels.merged, (RegressorLabels.from_dict(s.payload) for s in chosen))
            return realised_regressor(merged_r), note
        model = models.get(bid) or _model(store, bid, fallback_version)
        if model is None:
            return None, f"the baseline {bid} of these labels is no longer in the store"
        models[bid] = model
        merged = reduce(ClassifierLabels.merged, (ClassifierLabels.from_dict(s.payload) for s in chosen))
        return realised_classifier(merged, positive_scores=model.positive_scores), note
    except QualityError as exc:
        return None, f"no realised quality: {exc}"


def _reference(model: _Model) -> tuple[PerformanceEstimate | None, CalibrationCheck | None]:
    if model.calibration is None or model.column is None:
        return None, None
    try:
        # checked as the score means it: right rows per bin (top-class), positive labels per bin (positive-class)
        meaning = model.score_meaning or TOP_CLASS
        return (realised_classifier(model.calibration, positive_scores=model.positive_scores),
                calibration_check(pooled(model.calibration, meaning), model.column))
    except QualityError:
        return None, None


def _level(model: _Model, reference: PerformanceEstimate | None) -> Mapping[str, float]:
    if reference is not None:
        return metric_values(reference)
    if model.column is None:
        return {}
    own = WindowCounts("numeric", model.column.digest, model.column.counts, model.column.full_layout)
    try:
        return metric_values(estimate_from_scores(own, model.column, model.classes, None))
    except QualityError:
        return {}


def _one(store: Store, deployment: str, end: datetime, window_s: int, n_windows: int,
         points: Sequence[HistogramPoint], steps: Sequence[LabelStep], version: str) -> DeploymentQuality | None:
    scored = [p for p in points if p.signal == "score"]
    bid = max(scored, key=lambda p: p.start).baseline_id if scored else ""
    if not bid and steps:
        bid = max(steps, key=lambda s: s.start).baseline_id
    model = _model(store, bid, version)
    if model is None:  # its baseline was removed: nothing to measure against (as for drift)
        return None
    models = {bid: model}
    windows = []
    point_parts: list[list[HistogramPoint]] = [[] for _ in range(n_windows)]
    step_parts: list[list[LabelStep]] = [[] for _ in range(n_windows)]
    for p in scored:
        if 0 <= (i := window_index(p.start, end, window_s)) < n_windows:
            point_parts[n_windows - 1 - i].append(p)
    for s in steps:
        if 0 <= (i := window_index(s.start, end, window_s)) < n_windows:
            step_parts[n_windows - 1 - i].append(s)
    for (start, stop), part, labelled in zip(_bounds(end, window_s, n_windows), point_parts, step_parts, strict=True):
        estimate, why = _estimate(model, part)
        realised, note = _realised(store, labelled, models, version)
        windows.append(QualityWindow(start, stop, estimate, realised, "; ".join(n for n in (why, note) if n)))
    reference, check = _reference(model)
    return DeploymentQuality(deployment, model.model_version, bid, _kind(model), model.score_meaning, reference,
                             check, tuple(windows), window_s, _level(model, reference))


def load_quality(store: Store, now: datetime, *, window_s: int = 900, n_windows: int = 3,
                 deployments: Sequence[str] | None = None, estimate: bool = True) -> QualityLoad:
    """Quality of every deployment with score histograms or labels in the last ``n_windows`` windows
    (``estimate=False``: realised only, without reading the histograms)."""
    start = now - timedelta(seconds=window_s * n_windows)
    points = (store.load_histograms(deployments=deployments, signals=["score"], start=start, end=now)
              if estimate else [])
    steps = store.load_label_steps(deployments=deployments, start=start, end=now)
    versions = {d.id: d.model_version for d in store.load_deployments()}
    by_points: dict[str, list[HistogramPoint]] = defaultdict(list)
    by_steps: dict[str, list[LabelStep]] = defaultdict(list)
    for p in points:
        by_points[p.deployment].append(p)
    for s in steps:
        by_steps[s.deployment].append(s)
    out = QualityLoad({}, {})
    for dep in sorted(set(by_points) | set(by_steps)):
        try:
            found = _one(store, dep, now, window_s, n_windows, by_points[dep], by_steps[dep], versions.get(dep, ""))
        except UnreadableBaselineError as exc:
            out.unreadable[dep] = exc
            continue
        if found is not None:
            out.deployments[dep] = found
    return out


def deployment_quality(store: Store, now: datetime, deployment: str, *, window_s: int, n_windows: int
                       ) -> DeploymentQuality | UnreadableBaselineError | None:
    """One deployment's :class:`DeploymentQuality`; the error naming its baseline when that cannot be
    read; None when it has neither score histograms nor labels in the period."""
    loaded = load_quality(store, now, window_s=window_s, n_windows=n_windows, deployments=[deployment])
    return loaded.unreadable.get(deployment) or loaded.deployments.get(deployment)


def latest_quality(store: Store, now: datetime, *, window_s: int = 3600,
                   deployments: Sequence[str] | None = None, estimate: bool = True) -> QualityLoad:
    """Every deployment's quality over the last ``window_s`` only (one window each): what the
    ``quality_below`` alert rules and the estimated-quality gauges read."""
    return load_quality(store, now, window_s=window_s, n_windows=1, deployments=deployments, estimate=estimate)


def metric_values(estimate: PerformanceEstimate | None) -> Mapping[str, float]:
    return {} if estimate is None else {m.metric: m.value for m in estimate.metrics}
