"""Quality without labels: confidence-based performance estimation from a window's score histogram.

For each predicted class and top-class score bin, the baseline's calibration
(:mod:`quality.reliability`) gives the probability that a row there is right; the expected
correct rows of the window follow, and from them every metric. This is NannyML's CBPE, computed
from the histograms a serverless function can afford to ship instead of from raw rows.

- every classifier: expected ``accuracy``;
- binary: ``precision``, ``recall`` and ``f1`` of the positive class at the decision the model made
  (its predicted class), and ``roc_auc`` from the window's scores ordered by the probability of the
  positive class (``p`` for a row predicted positive, ``1 - p`` for one predicted negative), when the
  histogram resolves the order: rows sharing a bin are ties, and when ties could move AUC by more
  than ``AUC_TIE_LIMIT`` it is not reported (the detail says why);
- multiclass: per-class expected ``precision:<class>`` (recall would need the labels' class mix,
  which a shifted window does not reveal).

The band of each metric (``low``, ``high``: 95%) combines the window's own sampling (each row is
right or wrong at random given its probability) and the calibration's uncertainty (each score group's
accuracy is a Beta posterior over the reference rows it was learned from), by drawing both
``DRAWS`` times with a fixed seed. It does not cover concept drift (the link between score and
correctness changing), which no label-free method can see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drift.baseline import NumericColumn
from drift.binning import common_layout
from quality.aggregates import ClassifierLabels, ScoreHistogram
from quality.errors import IncompatibleScoresError, InsufficientLabelsError, InvalidLabelsError
from quality.reliability import MIN_CALIBRATION_ROWS, Reliability, bin_scores, reliability

DRAWS = 400
AUC_TIE_LIMIT = 0.02
SEED = 20261207
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MetricEstimate:
    """A metric's value and its 95% band (None where there is none)."""

    metric: str
    value: float
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class PerformanceEstimate:
    """Estimated (or, from :mod:`quality.realised`, realised) quality of one window."""

    kind: str  # binary | multiclass | regressor
    n: int
    metrics: tuple[MetricEstimate, ...]
    calibrated: bool  # the baseline's calibration curve was used (else the raw confidence)
    detail: str = ""

    def metric(self, name: str) -> MetricEstimate:
        for m in self.metrics:
            if m.metric == name:
                return m
        raise InvalidLabelsError("metric", f"no {name!r} in this report (has: "
                                 f"{', '.join(m.metric for m in self.metrics)})")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "calibrated": self.calibrated, "detail": self.detail,
                "metrics": [asdict(m) for m in self.metrics]}


def positive_index(classes: tuple[str, ...], positive_class: str | None) -> int:
    """Index of the positive class of a binary model (default ``"1"``, else the second class)."""
    if positive_class is None:
        return classes.index("1") if "1" in classes else 1
    if positive_class not in classes:
        raise InvalidLabelsError("positive_class", f"{positive_class!r} is not one of {list(classes)}")
    return classes.index(positive_class)


def auc_from_bins(positives: FloatArray, negatives: FloatArray) -> tuple[FloatArray, FloatArray]:
    """ROC AUC of bins ordered by score (last axis) with ties within a bin counted half, and the share
    of pairs that are such ties; vectorised over leading axes."""
    total_pos = positives.sum(axis=-1)
    total_neg = negatives.sum(axis=-1)
    below = np.cumsum(negatives, axis=-1) - negatives
    pairs = np.maximum(total_pos * total_neg, 1e-300)
    auc = np.sum(positives * (below + 0.5 * negatives), axis=-1) / pairs
    ties = np.sum(positives * negatives, axis=-1) / pairs
    return auc, ties


def _band(name: str, point: float, draws: FloatArray) -> MetricEstimate:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return MetricEstimate(name, point, None, None)
    low, high = np.quantile(finite, [0.025, 0.975])
    return MetricEstimate(name, point, float(min(low, point)), float(max(high, point)))


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def binary_metrics(counts: FloatArray, correct: FloatArray, pos: int) -> dict[str, FloatArray]:
    """Metrics of expected (or drawn) correct rows; ``counts``/``correct``: (..., 2, bins)."""
    neg = 1 - pos
    tp, fp = correct[..., pos, :].sum(-1), (counts[..., pos, :] - correct[..., pos, :]).sum(-1)
    tn, fn = correct[..., neg, :].sum(-1), (counts[..., neg, :] - correct[..., neg, :]).sum(-1)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    out = {"accuracy": _ratio(tp + tn, tp + tn + fp + fn), "precision": precision, "recall": recall,
           "f1": _ratio(2 * tp, 2 * tp + fp + fn)}
    # order by P(positive): predicted-negative bins by falling top score, then predicted-positive rising
    positives = np.concatenate(((counts[..., neg, :] - correct[..., neg, :])[..., ::-1], correct[..., pos, :]), -1)
    negatives = np.concatenate((correct[..., neg, ::-1], counts[..., pos, :] - correct[..., pos, :]), -1)
    out["roc_auc"], out["auc_ties"] = auc_from_bins(positives, negatives)
    return out


def _multiclass(counts: FloatArray, correct: FloatArray, classes: tuple[str, ...]) -> dict[str, FloatArray]:
    out = {"accuracy": _ratio(correct.sum((-1, -2)), counts.sum((-1, -2)))}
    for c, name in enumerate(classes):
        out[f"precision:{name}"] = _ratio(correct[..., c, :].sum(-1), counts[..., c, :].sum(-1))
    return out


def _curve(calibration: ClassifierLabels | None, column: NumericColumn, layout: NDArray[np.int64],
           classes: int) -> tuple[Reliability, bool]:
    if calibration is None:
        scores = bin_scores(column, layout)
        prob = np.tile(scores, (classes, 1))
        return Reliability(layout, prob, prob * 1000, (1 - prob) * 1000, (False,) * classes), False
    if calibration.labelled_count < MIN_CALIBRATION_ROWS:
        raise InsufficientLabelsError("a calibration", calibration.labelled_count, MIN_CALIBRATION_ROWS)
    curve = reliability(calibration, column, layout)
    return curve, all(curve.calibrated_classes)


def estimate_performance(window: ScoreHistogram, column: NumericColumn, calibration: ClassifierLabels | None, *,
                         positive_class: str | None = None) -> PerformanceEstimate:
    """Estimate a classifier's quality in one window from its score histogram.

    Parameters
    ----------
    window
        The window's rows per predicted class and top-class score bin.
    column
        The baseline's ``score`` column (its bins).
    calibration
        The baseline's labelled reference aggregate, or None (the scores are then taken as
        calibrated probabilities: ``calibrated`` is False in the result).
    positive_class
        Binary models: the class whose precision and recall are reported (default ``"1"``).

    Returns
    -------
    PerformanceEstimate

    Raises
    ------
    IncompatibleScoresError
        Window and calibration over other score bins or other classes.
    InsufficientLabelsError
        A calibration with too few labelled rows.
    """
    if window.column_digest != column.digest:
        raise IncompatibleScoresError("score", "the window was counted over another baseline's score bins")
    if calibration is not None and (calibration.column_digest != column.digest
                                    or calibration.classes != window.classes):
        raise IncompatibleScoresError("score", "calibration and window differ in score bins or classes")
    layout = window.layout if calibration is None else common_layout(window.layout, calibration.layout)
    counts = window.coarsened(layout).astype(np.float64)
    curve, calibrated = _curve(calibration, column, layout, len(window.classes))
    rng = np.random.default_rng(SEED)
    drawn_p = curve.draw(rng, DRAWS)
    drawn_correct = rng.binomial(counts.astype(np.int64)[None], drawn_p).astype(np.float64)
    binary = len(window.classes) == 2
    pos = positive_index(window.classes, positive_class) if binary else 0
    point = (binary_metrics(counts, counts * curve.probability, pos) if binary
             else _multiclass(counts, counts * curve.probability, window.classes))
    draws = (binary_metrics(counts[None], drawn_correct, pos) if binary
             else _multiclass(counts[None], drawn_correct, window.classes))
    metrics, detail = reported_metrics(point, draws)
    if not calibrated:
        detail.insert(0, "no calibration for every class: raw confidence used")
    return PerformanceEstimate("binary" if binary else "multiclass", int(counts.sum()), tuple(metrics), calibrated,
                               "; ".join(detail))


def reported_metrics(point: Mapping[str, FloatArray], draws: Mapping[str, FloatArray]
              ) -> tuple[list[MetricEstimate], list[str]]:
    """The metrics with their bands, leaving out undefined ones and an AUC the bins cannot resolve."""
    metrics: list[MetricEstimate] = []
    detail: list[str] = []
    for name, value in point.items():
        if name == "auc_ties" or not np.isfinite(value):
            continue
        if name == "roc_auc" and float(point["auc_ties"]) > AUC_TIE_LIMIT:
            detail.append(f"roc_auc not reported: {float(point['auc_ties']):.1%} of pairs tie in a score bin")
            continue
        metrics.append(_band(name, float(value), np.asarray(draws[name], dtype=np.float64)))
    return metrics, detail


def estimates_by_name(estimate: PerformanceEstimate) -> Mapping[str, MetricEstimate]:
    return {m.metric: m for m in estimate.metrics}
