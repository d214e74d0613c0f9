"""Model quality: performance estimated without labels from score histograms, realised with labels.

Why a package of its own rather than a part of ``drift``: drift compares input and output
*distributions* with a baseline; quality is about *correctness*, needs labels (the reference's for
calibration, later ones for realised metrics) and has its own errors and metric kinds. It builds on
drift's bins (a classifier's score histogram is a drift window over the baseline's ``score``
column) and imports drift, never the reverse. Pure computation over numpy: no SDK, clock,
environment or pandas.

Interfaces (for the CLI, store, collectors and dashboard to wire in):

Aggregates (``quality.aggregates``), mergeable by adding, JSON via ``to_dict``/``from_dict``:
    ``ScoreHistogram.from_rows(score_column, classes, scores, predicted)``: rows per predicted class
    and score bin (what estimation needs); ``ClassifierLabels.from_rows(score_column, classes,
    scores, predicted, labels)``: plus correct rows and the confusion matrix (the baseline's
    calibration, or a window's labels); ``RegressorLabels.from_rows(predictions, labels)``;
    ``score_layout(column)``: the score edges they are counted at.
Calibration (``quality.reliability``): ``calibration_check(labels, column) -> CalibrationCheck``.
Baselines (``quality.baseline``): ``reference_calibration(baseline, classes, scores, predicted,
    labels)`` calibrates a baseline from its labelled reference rows (``MissingLabelsError`` without a
    label column); ``with_label_calibration(baseline, labels)`` stores a calibration
    in the baseline (its optional ``label_calibration`` field); ``label_calibration(baseline)``
    reads it back (None when the baseline was made without labels).
Estimation (``quality.estimate``): ``estimate_performance(window, column, calibration) ->
    PerformanceEstimate`` with ``MetricEstimate(metric, value, low, high)``s.
From the marginal score histogram the collectors keep (``quality.marginal``):
    ``estimate_from_scores(window_counts, column, classes, calibration)``: accuracy from top-class
    scores; accuracy, precision, recall, F1 and AUC from a binary model's positive-class scores
    (``score_meaning(column, classes)`` tells which the baseline holds).
Realised (``quality.realised``): ``realised_classifier(labels)``, ``realised_regressor(labels)``,
    ``check_metric(metric, model_kind)``, ``below_floor(report, metric, floor, estimated=...)``.
Errors (``quality.errors``): ``QualityError`` and its subclasses.
"""

from __future__ import annotations

from quality.aggregates import ClassifierLabels, RegressorLabels, ScoreHistogram, score_layout
from quality.baseline import label_calibration, reference_calibration, with_label_calibration
from quality.errors import (
    IncompatibleScoresError,
    InsufficientLabelsError,
    InvalidLabelsError,
    MetricKindError,
    MissingLabelsError,
    QualityError,
)
from quality.estimate import MetricEstimate, PerformanceEstimate, estimate_performance
from quality.marginal import POSITIVE_CLASS, TOP_CLASS, estimate_from_scores, pooled, score_meaning
from quality.realised import (
    CLASSIFIER_METRICS,
    REGRESSOR_METRICS,
    below_floor,
    check_metric,
    realised_classifier,
    realised_regressor,
)
from quality.reliability import CalibrationCheck, calibration_check

__all__ = [
    "CLASSIFIER_METRICS",
    "POSITIVE_CLASS",
    "REGRESSOR_METRICS",
    "TOP_CLASS",
    "CalibrationCheck",
    "ClassifierLabels",
    "IncompatibleScoresError",
    "InsufficientLabelsError",
    "InvalidLabelsError",
    "MetricEstimate",
    "MetricKindError",
    "MissingLabelsError",
    "PerformanceEstimate",
    "QualityError",
    "RegressorLabels",
    "ScoreHistogram",
    "below_floor",
    "calibration_check",
    "check_metric",
    "estimate_from_scores",
    "estimate_performance",
    "label_calibration",
    "realised_classifier",
    "realised_regressor",
    "reference_calibration",
    "pooled",
    "score_layout",
    "score_meaning",
    "with_label_calibration",
]
