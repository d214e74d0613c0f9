"""Quality from the score histogram the collectors keep (one count per score bin, not split by class):
accuracy from top-class scores, every binary metric from positive-class scores, each tracking the
realised value under covariate shift; labelled rows without a score still count where they can."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from drift import NumericColumn, WindowCounts, build_baseline
from quality import (
    POSITIVE_CLASS,
    TOP_CLASS,
    ClassifierLabels,
    IncompatibleScoresError,
    InsufficientLabelsError,
    estimate_from_scores,
    realised_classifier,
    score_meaning,
)
from quality.marginal import DECISION_THRESHOLD, above_share
from tests.quality.models import binary_rows, multiclass_rows

BINARY = ("0", "1")
MULTI = ("0", "1", "2", "3")


def _column(scores: np.ndarray, predicted: np.ndarray) -> NumericColumn:
    baseline = build_baseline({"score": scores, "class": predicted}, categorical=["class"], model_sha256="0" * 64,
                              version="v")
    column = baseline.column("score")
    assert isinstance(column, NumericColumn)
    return column


def _inside(metric: str, estimate: object, realised: float, slack: float) -> None:
    m = estimate.metric(metric)  # type: ignore[attr-defined]
    assert m.low is not None and m.high is not None
    assert m.low - slack <= realised <= m.high + slack, (metric, m, realised)


@pytest.mark.parametrize("sharpness", [1.0, 2.5])
@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_top_class_scores_give_accuracy_that_tracks_the_realised(sharpness: float, shift: float) -> None:
    rng = np.random.default_rng(int(100 * sharpness + shift))
    reference = binary_rows(rng, 30_000, sharpness=sharpness)
    column = _column(reference.scores, reference.predicted)
    assert score_meaning(column, BINARY) == TOP_CLASS  # a top-class probability of two classes is >= 0.5
    calibration = ClassifierLabels.from_rows(column, BINARY, reference.scores, reference.predicted, reference.labels)
    window = binary_rows(rng, 5_000, sharpness=sharpness, shift=shift)
    estimate = estimate_from_scores(WindowCounts.from_values(column, window.scores), column, BINARY, calibration)
    realised = realised_classifier(ClassifierLabels.from_rows(column, BINARY, window.scores, window.predicted,
                                                              window.labels))
    assert estimate.kind == "binary" and estimate.calibrated and estimate.n == 5_000
    assert [m.metric for m in estimate.metrics] == ["accuracy"] and "accuracy only" in estimate.detail
    _inside("accuracy", estimate, realised.metric("accuracy").value, slack=0.01)


def test_an_overconfident_models_raw_scores_overstate_accuracy_and_its_calibration_corrects_it() -> None:
    rng = np.random.default_rng(11)
    reference = binary_rows(rng, 30_000, sharpness=2.5)
    column = _column(reference.scores, reference.predicted)
    calibration = ClassifierLabels.from_rows(column, BINARY, reference.scores, reference.predicted, reference.labels)
    window = binary_rows(rng, 5_000, sharpness=2.5, shift=0.5)
    counts = WindowCounts.from_values(column, window.scores)
    realised = float(np.mean(window.predicted == window.labels))
    raw = estimate_from_scores(counts, column, BINARY, None).metric("accuracy").value
    calibrated = estimate_from_scores(counts, column, BINARY, calibration).metric("accuracy").value
    assert raw - realised > 0.04 and abs(calibrated - realised) < 0.02


def test_multiclass_top_class_scores_give_accuracy() -> None:
    rng = np.random.default_rng(12)
    reference = multiclass_rows(rng, 40_000, sharpness=2.0)
    column = _column(reference.scores, reference.predicted)
    calibration = ClassifierLabels.from_rows(column, MULTI, reference.scores, reference.predicted, reference.labels)
    window = multiclass_rows(rng, 8_000, sharpness=2.0, shift=0.8)
    estimate = estimate_from_scores(WindowCounts.from_values(column, window.scores), column, MULTI, calibration)
    assert estimate.kind == "multiclass" and [m.metric for m in estimate.metrics] == ["accuracy"]
    _inside("accuracy", estimate, float(np.mean(window.predicted == window.labels)), slack=0.015)


@pytest.mark.parametrize("sharpness", [1.0, 2.5])
@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_positive_class_scores_give_every_binary_metric(sharpness: float, shift: float) -> None:
    rng = np.random.default_rng(int(200 * sharpness + shift))
    reference = binary_rows(rng, 30_000, sharpness=sharpness)
    p_ref = reference.positive_probability
    column = _column(p_ref, reference.predicted)
    assert score_meaning(column, BINARY) == POSITIVE_CLASS
    calibration = ClassifierLabels.from_rows(column, BINARY, p_ref, reference.predicted, reference.labels)
    window = binary_rows(rng, 5_000, sharpness=sharpness, shift=shift)
    p = window.positive_probability
    estimate = estimate_from_scores(WindowCounts.from_values(column, p), column, BINARY, calibration)
    assert estimate.kind == "binary" and estimate.calibrated and "positive-class" in estimate.detail
    y, predicted = window.labels, window.predicted
    tp = float(np.sum((predicted == 1) & (y == 1)))
    truth = {"accuracy": float(np.mean(predicted == y)), "precision": tp / float(np.sum(predicted == 1)),
             "recall": tp / float(np.sum(y == 1))}
    truth["roc_auc"] = float(scipy.stats.mannwhitneyu(p[y == 1], p[y == 0]).statistic / (y.sum() * (1 - y).sum()))
    for metric, value in truth.items():
        _inside(metric, estimate, value, slack=0.01)
    realised = realised_classifier(ClassifierLabels.from_rows(column, BINARY, p, predicted, y), positive_scores=True)
    assert realised.metric("roc_auc").value == pytest.approx(truth["roc_auc"], abs=0.005)
    assert realised.metric("precision").value == pytest.approx(truth["precision"])


def test_labelled_rows_without_a_score_count_in_accuracy_but_not_in_the_score_bins() -> None:
    rng = np.random.default_rng(13)
    rows = binary_rows(rng, 2_000)
    column = _column(rows.scores, rows.predicted)
    scores = rows.scores.copy()
    scores[:500] = np.nan  # a label file that gives the prediction but not its score
    labels = ClassifierLabels.from_rows(column, BINARY, scores, rows.predicted, rows.labels)
    assert labels.invalid_score_count == 500 and labels.labelled_count == 1_500 and labels.confusion_count == 2_000
    report = realised_classifier(labels)
    assert report.n == 2_000
    assert report.metric("accuracy").value == pytest.approx(float(np.mean(rows.predicted == rows.labels)))


def test_a_window_or_calibration_over_other_bins_is_refused() -> None:
    rng = np.random.default_rng(14)
    a, b = binary_rows(rng, 1_000), binary_rows(rng, 1_000)
    column, other = _column(a.scores, a.predicted), _column(b.scores[:900], b.predicted[:900])
    with pytest.raises(IncompatibleScoresError, match="score"):
        estimate_from_scores(WindowCounts.from_values(other, b.scores), column, BINARY, None)
    few = ClassifierLabels.from_rows(column, BINARY, a.scores[:50], a.predicted[:50], a.labels[:50])
    with pytest.raises(InsufficientLabelsError, match="at least 100"):
        estimate_from_scores(WindowCounts.from_values(column, a.scores), column, BINARY, few)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.05, 0.95))
def test_the_share_above_the_threshold_is_a_share_and_exact_away_from_it(seed: int, threshold: float) -> None:
    rng = np.random.default_rng(seed)
    values = rng.random(400)
    column = _column(values, (values > DECISION_THRESHOLD).astype(np.int64))
    layout = np.arange(0, column.edges.size, 7, dtype=np.int64)
    share = above_share(column, layout, threshold)
    low = np.concatenate(([-np.inf], column.edges[layout]))
    high = np.concatenate((column.edges[layout], [np.inf]))
    assert np.all((share >= 0) & (share <= 1))
    assert np.all(share[low >= threshold] == 1.0) and np.all(share[high <= threshold] == 0.0)
    straddling = (low < threshold) & (high > threshold)
    assert straddling.sum() <= 1


def test_a_small_calibration_of_well_separated_positive_scores_never_pools_across_the_threshold() -> None:
    # a sharp model (scores near 0 or 1) calibrated on 180 labelled rows, as the demo's held-out sets are: the
    # groups of 50 rows the curve pools must stay on their side of 0.5, or the rows predicted negative in a
    # group that reaches over it take the positives' probability and the estimate falls far under the truth
    rng = np.random.default_rng(7)
    reference = binary_rows(rng, 180, sharpness=6.0)
    p_ref = reference.positive_probability
    baseline_rows = binary_rows(rng, 20_000, sharpness=6.0)
    column = _column(baseline_rows.positive_probability, baseline_rows.predicted)
    calibration = ClassifierLabels.from_rows(column, BINARY, p_ref, reference.predicted, reference.labels)
    window = binary_rows(rng, 5_000, sharpness=6.0)
    estimate = estimate_from_scores(WindowCounts.from_values(column, window.positive_probability), column, BINARY,
                                    calibration)
    _inside("accuracy", estimate, float(np.mean(window.predicted == window.labels)), slack=0.03)
