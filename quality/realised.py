"""Quality with labels: realised metrics of a window from its label aggregate, and the quality floor.

Classifiers: ``accuracy`` (Wilson 95% band), binary ``precision``/``recall``/``f1`` of the positive
class and ``roc_auc`` (its band spans the ties within score bins: all of them ordered right, all
wrong), multiclass per-class ``precision:<class>`` and ``recall:<class>`` from the confusion matrix.
Regressors: ``mae``, ``rmse`` and ``bias`` (mean of prediction - label).

A metric of the wrong kind (``rmse`` of a classifier, ``accuracy`` of a regressor) raises
:class:`~quality.errors.MetricKindError`, one clear message naming the allowed metrics.
"""

from __future__ import annotations

import math

import numpy as np

from quality.aggregates import ClassifierLabels, RegressorLabels
from quality.errors import InsufficientLabelsError, MetricKindError
from quality.estimate import AUC_TIE_LIMIT, MetricEstimate, PerformanceEstimate, auc_from_bins, positive_index

CLASSIFIER_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSOR_METRICS = ("mae", "rmse", "bias")
LOWER_IS_BETTER = frozenset({"mae", "rmse"})
_Z95 = 1.959963984540054


def check_metric(metric: str, model_kind: str) -> None:
    """Raise MetricKindError unless ``metric`` (a per-class ``name:class`` counts as ``name``) belongs
    to ``model_kind`` (classifier, binary, multiclass or regressor)."""
    base = metric.split(":", 1)[0]
    allowed = REGRESSOR_METRICS if model_kind == "regressor" else CLASSIFIER_METRICS
    if base not in allowed:
        raise MetricKindError(metric, "regressor" if model_kind == "regressor" else "classifier", allowed)


def _wilson(name: str, hits: float, n: float) -> MetricEstimate:
    rate = hits / n
    z2 = _Z95 * _Z95
    centre = (rate + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return MetricEstimate(name, rate, max(0.0, centre - half), min(1.0, centre + half))


def _binary(labels: ClassifierLabels, pos: int, positive_scores: bool) -> list[MetricEstimate]:
    neg = 1 - pos
    tp, fp = float(labels.confusion[pos, pos]), float(labels.confusion[pos, neg])
    fn, tn = float(labels.confusion[neg, pos]), float(labels.confusion[neg, neg])
    out = [_wilson("accuracy", tp + tn, tp + tn + fp + fn)]
    if tp + fp > 0:
        out.append(_wilson("precision", tp, tp + fp))
    if tp + fn > 0:
        out.append(_wilson("recall", tp, tp + fn))
    if 2 * tp + fp + fn > 0:
        out.append(MetricEstimate("f1", 2 * tp / (2 * tp + fp + fn), None, None))
    counts, correct = labels.counts.astype(np.float64), labels.correct.astype(np.float64)
    if positive_scores:  # bins ordered by P(positive) already
        positives = correct[pos] + counts[neg] - correct[neg]
        negatives = counts.sum(axis=0) - positives
    else:  # top-class scores: predicted-negative bins by falling score, then predicted-positive rising
        positives = np.concatenate(((counts[neg] - correct[neg])[::-1], correct[pos]))
        negatives = np.concatenate((correct[neg][::-1], counts[pos] - correct[pos]))
    if positives.sum() > 0 and negatives.sum() > 0:
        auc, ties = (float(v) for v in auc_from_bins(positives, negatives))
        if ties <= AUC_TIE_LIMIT:
            out.append(MetricEstimate("roc_auc", auc, auc - 0.5 * ties, auc + 0.5 * ties))
    return out


def realised_classifier(labels: ClassifierLabels, *, positive_class: str | None = None,
                        positive_scores: bool = False) -> PerformanceEstimate:
    """Realised quality of a window of labelled classifier rows (``positive_scores``: a binary model's
    scores are the positive class's probability, see :mod:`quality.marginal`, not the top class's).

    Raises
    ------
    InsufficientLabelsError
        No usable labelled row.
    """
    n = labels.confusion_count
    if n == 0:
        raise InsufficientLabelsError("realised quality", 0, 1)
    if len(labels.classes) == 2:
        metrics = _binary(labels, positive_index(labels.classes, positive_class), positive_scores)
        kind = "binary"
    else:
        kind = "multiclass"
        metrics = [_wilson("accuracy", float(np.trace(labels.confusion)), float(n))]
        for c, name in enumerate(labels.classes):
            predicted, actual = float(labels.confusion[c].sum()), float(labels.confusion[:, c].sum())
            if predicted:
                metrics.append(_wilson(f"precision:{name}", float(labels.confusion[c, c]), predicted))
            if actual:
                metrics.append(_wilson(f"recall:{name}", float(labels.confusion[c, c]), actual))
    detail = f"{labels.invalid_label_count} rows with unusable labels left out" if labels.invalid_label_count else ""
    return PerformanceEstimate(kind, n, tuple(metrics), True, detail)


def realised_regressor(labels: RegressorLabels) -> PerformanceEstimate:
    """Realised MAE, RMSE and bias of a window of labelled regressor rows.

    Raises
    ------
    InsufficientLabelsError
        No usable labelled row.
    """
    n = labels.count
    if n == 0:
        raise InsufficientLabelsError("realised quality", 0, 1)
    mae = labels.sum_absolute_error / n
    rmse = math.sqrt(max(0.0, labels.sum_squared_error / n))
    bias = labels.sum_error / n
    spread = math.sqrt(max(0.0, labels.sum_squared_error / n - bias * bias) / n)
    metrics = (MetricEstimate("mae", mae, None, None), MetricEstimate("rmse", rmse, None, None),
               MetricEstimate("bias", bias, bias - _Z95 * spread, bias + _Z95 * spread))
    detail = f"{labels.invalid_label_count} rows with unusable labels left out" if labels.invalid_label_count else ""
    return PerformanceEstimate("regressor", n, metrics, True, detail)


def below_floor(report: PerformanceEstimate, metric: str, floor: float, *, estimated: bool) -> bool:
    """Whether ``metric`` is worse than ``floor`` (a ceiling for MAE and RMSE).

    An estimate alerts only when its whole band is on the wrong side (it is uncertain by nature); a
    realised value alerts when the value itself is.

    Raises
    ------
    MetricKindError
        A metric of the other kind of model.
    InvalidLabelsError
        A metric the report does not hold (e.g. AUC the histogram could not resolve).
    """
    check_metric(metric, report.kind)
    m = report.metric(metric)
    if metric.split(":", 1)[0] in LOWER_IS_BETTER:
        edge = m.low if estimated and m.low is not None else m.value
        return edge > floor
    edge = m.high if estimated and m.high is not None else m.value
    return edge < floor
