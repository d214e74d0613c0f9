"""Quality without labels from the score histogram the collectors keep: one count per score bin.

The collectors keep a deployment's ``score`` signal as counts over the baseline's score bins
(CloudWatch's ``PR(:edge)``, Cloud Monitoring's distribution buckets, the local collector's values),
not split by predicted class as :class:`~quality.aggregates.ScoreHistogram` is. What that marginal
histogram can tell depends on what the score means (docs/telemetry.md):

- **top-class probability** (multiclass models; binary models of the reference service's pre-probe
  lines, such as the demo's): a row's score is how confident the model is in the class it predicted,
  so each bin's probability of being right, pooled over the predicted classes, gives the expected
  **accuracy**. Precision and recall per class would need the score split by predicted class, which
  the histogram does not hold, so they are not reported (the detail says so).
- **positive-class probability** (binary models under the probe): the score bin decides the
  predicted class (positive above the decision threshold), so the histogram is the whole joint
  distribution: expected **accuracy, precision, recall and F1** at the threshold and **ROC AUC**
  (rows ordered by the score itself) follow from each bin's probability that the label is positive.
  A bin that straddles the threshold is split by the share of the baseline's reference rows above it.

:func:`score_meaning` tells the two apart from the baseline: a binary model whose reference scores
include values below 0.5 reports the positive class (a top-class probability of two classes is at
least 0.5). Calibration comes from the baseline's labelled reference (:mod:`quality.reliability`),
pooled over predicted classes; the bands are drawn as in :mod:`quality.estimate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from drift.baseline import NumericColumn
from drift.binning import coarsen, common_layout
from drift.window import WindowCounts
from quality.aggregates import ClassifierLabels, IntArray, ScoreHistogram
from quality.errors import IncompatibleScoresError, InsufficientLabelsError, InvalidLabelsError
from quality.estimate import (
    DRAWS,
    SEED,
    PerformanceEstimate,
    auc_from_bins,
    binary_metrics,
    estimate_performance,
    positive_index,
    reported_metrics,
)
from quality.reliability import MIN_CALIBRATION_ROWS, Reliability, bin_scores, reliability

TOP_CLASS = "top_class"
POSITIVE_CLASS = "positive_class"
DECISION_THRESHOLD = 0.5  # scikit-learn's predict for a binary model: the positive class above 0.5
_POOLED = ("*",)
FloatArray = NDArray[np.float64]


def score_meaning(column: NumericColumn, classes: Sequence[str]) -> str:
    """``POSITIVE_CLASS`` for a binary model whose reference scores go below 0.5, else ``TOP_CLASS``."""
    return POSITIVE_CLASS if len(classes) == 2 and column.min < DECISION_THRESHOLD else TOP_CLASS


def pooled(labels: ClassifierLabels, meaning: str, positive_class: str | None = None) -> ClassifierLabels:
    """``labels`` pooled over predicted classes into one row per score bin: right rows (top-class
    scores) or rows whose label is the positive class (positive-class scores)."""
    counts = labels.counts.sum(axis=0)
    if meaning == POSITIVE_CLASS:
        pos = positive_index(labels.classes, positive_class)
        hits = labels.correct[pos] + (labels.counts[1 - pos] - labels.correct[1 - pos])
    else:
        hits = labels.correct.sum(axis=0)
    n = int(counts.sum())
    return ClassifierLabels(labels.column_digest, labels.layout, _POOLED, counts[None], hits[None],
                            np.array([[n]], dtype=np.int64))


def _layouts(window: WindowCounts, column: NumericColumn, calibration: ClassifierLabels | None
             ) -> tuple[IntArray, IntArray]:
    """(the window's layout, the one it is estimated over: shared with the calibration's)."""
    if window.kind != "numeric" or window.layout is None or window.column_digest != column.digest:
        raise IncompatibleScoresError("score", "the window was not counted over this baseline's score bins")
    if calibration is not None and calibration.column_digest != column.digest:
        raise IncompatibleScoresError("score", "the calibration was counted over another baseline's score bins")
    own = window.layout
    return own, own if calibration is None else common_layout(own, calibration.layout)


def estimate_from_scores(window: WindowCounts, column: NumericColumn, classes: Sequence[str],
                         calibration: ClassifierLabels | None, *, positive_class: str | None = None
                         ) -> PerformanceEstimate:
    """Estimate a classifier's quality in one window from its (marginal) score histogram.

    Parameters
    ----------
    window
        The window's ``score`` counts over the baseline's score column.
    column
        The baseline's ``score`` column.
    classes
        The model's classes (the baseline's ``class`` categories); two make it binary.
    calibration
        The baseline's labelled reference aggregate, or None (scores taken as calibrated probabilities).
    positive_class
        Binary models with positive-class scores: the class they are the probability of (default "1").

    Returns
    -------
    PerformanceEstimate
        ``kind`` binary or multiclass; ``detail`` says which meaning of the score was used.

    Raises
    ------
    IncompatibleScoresError
        Window or calibration not counted over ``column``'s bins.
    InsufficientLabelsError
        A calibration with too few labelled rows.
    InvalidLabelsError
        Fewer than two classes, or a positive class that is not one of them.
    """
    keys = tuple(str(c) for c in classes)
    if len(keys) < 2:
        raise InvalidLabelsError("classes", "a classifier needs at least two classes")
    own, layout = _layouts(window, column, calibration)
    meaning = score_meaning(column, keys)
    if calibration is not None and calibration.labelled_count < MIN_CALIBRATION_ROWS:
        raise InsufficientLabelsError("a calibration", calibration.labelled_count, MIN_CALIBRATION_ROWS)
    curve = None if calibration is None else pooled(calibration, meaning, positive_class)
    kind = "binary" if len(keys) == 2 else "multiclass"
    if meaning == POSITIVE_CLASS:
        counts = np.asarray(coarsen(np.asarray(window.counts, np.int64), own, layout), np.float64)
        return _positive_class(counts, column, layout, curve, positive_index(keys, positive_class))
    histogram = ScoreHistogram(column.digest, own, _POOLED, np.asarray(window.counts, np.int64)[None])
    estimate = estimate_performance(histogram, column, curve)
    accuracy = tuple(m for m in estimate.metrics if m.metric == "accuracy")
    detail = "; ".join(d for d in ("top-class scores: accuracy only (precision and recall need the score "
                                   "per predicted class)", estimate.detail) if d)
    return replace(estimate, kind=kind, metrics=accuracy, detail=detail)


def above_share(column: NumericColumn, layout: IntArray, threshold: float) -> FloatArray:
    """Per bin of ``layout``: the share of its rows above ``threshold`` (1 above, 0 below; a bin that
    straddles it takes the share of the baseline's reference rows in it that are above, the reference
    spread evenly within each of its own fine bins)."""
    edges = column.edges
    fine = column.counts.astype(np.float64)  # fine bin j is (edges[j-1], edges[j]]; the outer two hold none
    lower, upper = edges[:-1], edges[1:]
    inner = np.clip((upper - threshold) / np.maximum(upper - lower, 1e-300), 0.0, 1.0)
    fine_above = np.concatenate(([0.0], fine[1:-1] * inner, [fine[-1]]))
    start = np.concatenate(([0], layout + 1))  # coarse bin i holds fine bins start[i] .. end[i]
    end = np.concatenate((layout, [edges.size]))
    cum_total = np.concatenate(([0.0], np.cumsum(fine)))
    cum_above = np.concatenate(([0.0], np.cumsum(fine_above)))
    total = cum_total[end + 1] - cum_total[start]
    above = cum_above[end + 1] - cum_above[start]
    low = np.concatenate(([-np.inf], edges[layout]))
    high = np.concatenate((edges[layout], [np.inf]))
    share = np.where(low >= threshold, 1.0, np.where(high <= threshold, 0.0, 0.5))
    straddles = (low < threshold) & (high > threshold) & (total > 0)
    share[straddles] = above[straddles] / total[straddles]
    return share


def _positive_class(counts: FloatArray, column: NumericColumn, layout: IntArray,
                    calibration: ClassifierLabels | None, pos: int) -> PerformanceEstimate:
    """Binary metrics from positive-class scores (``counts`` over ``layout``): ``q`` is each bin's
    probability of a positive label."""
    if calibration is None:
        scores = bin_scores(column, layout)[None]
        curve = Reliability(layout, scores, scores * 1000, (1 - scores) * 1000, (False,))
    else:
        curve = reliability(calibration, column, layout, split_at=DECISION_THRESHOLD)
    q, calibrated = curve.probability[0], curve.calibrated_classes[0]
    share = above_share(column, layout, DECISION_THRESHOLD)
    rng = np.random.default_rng(SEED)
    drawn_q = curve.draw(rng, DRAWS)[:, 0, :]
    drawn_pos = rng.binomial(counts.astype(np.int64)[None], drawn_q).astype(np.float64)
    point = _joint(counts[None], (counts * q)[None], share, pos)
    draws = _joint(np.broadcast_to(counts, drawn_pos.shape), drawn_pos, share, pos)
    metrics, detail = reported_metrics({k: v[0] for k, v in point.items()}, draws)
    detail.insert(0, "positive-class scores")
    if not calibrated:
        detail.insert(1, "no calibration: raw scores used")
    return PerformanceEstimate("binary", int(counts.sum()), tuple(metrics), calibrated, "; ".join(detail))


def _joint(counts: FloatArray, positives: FloatArray, share: FloatArray, pos: int) -> dict[str, FloatArray]:
    """Binary metrics of rows per score bin (``counts``) of which ``positives`` have a positive label;
    ``share`` of each bin is predicted positive. Shapes (draws, bins)."""
    negatives = counts - positives
    by_class = np.empty((*counts.shape[:-1], 2, counts.shape[-1]))
    right = np.empty_like(by_class)
    by_class[..., pos, :], by_class[..., 1 - pos, :] = counts * share, counts * (1 - share)
    right[..., pos, :], right[..., 1 - pos, :] = positives * share, negatives * (1 - share)
    out = binary_metrics(by_class, right, pos)
    out["roc_auc"], out["auc_ties"] = auc_from_bins(positives, negatives)  # ordered by the score itself
    return out
