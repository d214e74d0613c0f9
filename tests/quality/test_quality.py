"""Quality: aggregates merge exactly, estimation without labels tracks realised quality, bad input is named."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from drift import Baseline, NumericColumn, build_baseline
from quality import (
    ClassifierLabels,
    InvalidLabelsError,
    MetricKindError,
    MissingLabelsError,
    RegressorLabels,
    ScoreHistogram,
    below_floor,
    calibration_check,
    check_metric,
    estimate_performance,
    label_calibration,
    realised_classifier,
    realised_regressor,
    reference_calibration,
    with_label_calibration,
)
from tests.quality.models import Rows, binary_rows, multiclass_rows

BINARY = ("0", "1")
MULTI = ("0", "1", "2", "3")


def _setup(rows: Rows, classes: tuple[str, ...]) -> tuple[Baseline, NumericColumn, ClassifierLabels]:
    baseline = build_baseline({"score": rows.scores, "class": rows.predicted}, categorical=["class"],
                              model_sha256="0" * 64, version="v")
    column = baseline.column("score")
    assert isinstance(column, NumericColumn)
    labels = ClassifierLabels.from_rows(column, classes, rows.scores, rows.predicted, rows.labels)
    return with_label_calibration(baseline, labels), column, labels


def _within(estimate: float, low: float | None, high: float | None, realised: float, slack: float) -> bool:
    assert low is not None and high is not None
    return low - slack <= realised <= high + slack and abs(estimate - realised) <= (high - low) / 2 + slack


@pytest.mark.parametrize("sharpness", [1.0, 2.5])
@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_binary_estimate_tracks_realised_quality_under_covariate_shift(sharpness: float, shift: float) -> None:
    rng = np.random.default_rng(int(10 * sharpness + shift))
    _, column, calibration = _setup(binary_rows(rng, 30_000, sharpness=sharpness), BINARY)
    window = binary_rows(rng, 5_000, sharpness=sharpness, shift=shift)
    estimate = estimate_performance(ScoreHistogram.from_rows(column, BINARY, window.scores, window.predicted),
                                    column, calibration)
    realised = realised_classifier(ClassifierLabels.from_rows(column, BINARY, window.scores, window.predicted,
                                                              window.labels))
    assert estimate.calibrated and estimate.kind == "binary" and estimate.n == 5_000
    for metric in ("accuracy", "precision", "recall", "roc_auc"):
        e, r = estimate.metric(metric), realised.metric(metric)
        assert _within(e.value, e.low, e.high, r.value, slack=0.01), (metric, e, r.value)
    exact_auc = scipy.stats.mannwhitneyu(window.positive_probability[window.labels == 1],
                                         window.positive_probability[window.labels == 0]).statistic
    exact_auc /= (window.labels == 1).sum() * (window.labels == 0).sum()
    assert realised.metric("roc_auc").value == pytest.approx(exact_auc, abs=0.005)


def test_an_overconfident_model_needs_the_baselines_calibration() -> None:
    rng = np.random.default_rng(1)
    reference = binary_rows(rng, 30_000, sharpness=2.5)
    _, column, calibration = _setup(reference, BINARY)
    check = calibration_check(calibration, column)
    assert not check.calibrated and check.expected_calibration_error > 0.05
    window = binary_rows(rng, 5_000, sharpness=2.5, shift=0.5)
    histogram = ScoreHistogram.from_rows(column, BINARY, window.scores, window.predicted)
    raw = estimate_performance(histogram, column, None)
    calibrated = estimate_performance(histogram, column, calibration)
    realised = realised_classifier(ClassifierLabels.from_rows(column, BINARY, window.scores, window.predicted,
                                                              window.labels)).metric("accuracy").value
    assert not raw.calibrated and raw.metric("accuracy").value - realised > 0.04  # confidence overstates
    assert abs(calibrated.metric("accuracy").value - realised) < 0.02
    well = calibration_check(_setup(binary_rows(rng, 30_000), BINARY)[2], column=_setup(binary_rows(rng, 30_000),
                                                                                          BINARY)[1])
    assert well.calibrated and well.expected_calibration_error < 0.03


def test_multiclass_estimate_tracks_accuracy_and_precision() -> None:
    rng = np.random.default_rng(2)
    _, column, calibration = _setup(multiclass_rows(rng, 40_000, sharpness=2.0), MULTI)
    window = multiclass_rows(rng, 8_000, sharpness=2.0, shift=0.8)
    estimate = estimate_performance(ScoreHistogram.from_rows(column, MULTI, window.scores, window.predicted),
                                    column, calibration)
    realised = realised_classifier(ClassifierLabels.from_rows(column, MULTI, window.scores, window.predicted,
                                                              window.labels))
    assert estimate.kind == "multiclass"
    for metric in ("accuracy", "precision:0"):
        e, r = estimate.metric(metric), realised.metric(metric)
        assert _within(e.value, e.low, e.high, r.value, slack=0.015), (metric, e, r.value)
    assert {m.metric for m in realised.metrics} >= {"recall:0", "precision:3"}


def test_aggregates_merge_exactly_and_survive_json() -> None:
    rng = np.random.default_rng(3)
    rows = binary_rows(rng, 6_000)
    _, column, _ = _setup(rows, BINARY)
    whole = ClassifierLabels.from_rows(column, BINARY, rows.scores, rows.predicted, rows.labels)
    halves = [ClassifierLabels.from_rows(column, BINARY, rows.scores[s], rows.predicted[s], rows.labels[s])
              for s in (slice(0, 2_500), slice(2_500, None))]
    merged = halves[1].merged(halves[0])
    for field in ("counts", "correct", "confusion"):
        np.testing.assert_array_equal(getattr(merged, field), getattr(whole, field))
    again = ClassifierLabels.from_dict(whole.to_dict())
    np.testing.assert_array_equal(again.correct, whole.correct)
    pred, lab = rng.normal(size=1_000), rng.normal(size=1_000)
    reg = RegressorLabels.from_rows(pred[:400], lab[:400]).merged(RegressorLabels.from_rows(pred[400:], lab[400:]))
    report = realised_regressor(RegressorLabels.from_dict(reg.to_dict()))
    assert report.metric("mae").value == pytest.approx(np.mean(np.abs(pred - lab)))
    assert report.metric("rmse").value == pytest.approx(np.sqrt(np.mean((pred - lab) ** 2)))
    assert report.metric("bias").value == pytest.approx(np.mean(pred - lab))


def test_the_baseline_carries_its_calibration() -> None:
    rng = np.random.default_rng(4)
    baseline, _, labels = _setup(binary_rows(rng, 3_000), BINARY)
    again = Baseline.from_dict(baseline.to_dict())
    restored = label_calibration(again)
    assert restored is not None and restored.labelled_count == labels.labelled_count
    plain = build_baseline({"score": rng.random(500)}, categorical=[], model_sha256="0", version="v")
    assert label_calibration(Baseline.from_dict(plain.to_dict())) is None


def test_bad_labels_are_counted_and_wrong_metrics_named() -> None:
    rng = np.random.default_rng(5)
    rows = binary_rows(rng, 2_000)
    _, column, _ = _setup(rows, BINARY)
    labels = rows.labels.astype(object)
    labels[:10] = "cat"  # not a class of this model
    labels[10:15] = None
    agg = ClassifierLabels.from_rows(column, BINARY, rows.scores, rows.predicted, labels)
    assert agg.invalid_label_count == 15 and agg.labelled_count == 1_985
    assert "15 rows" in realised_classifier(agg).detail
    with pytest.raises(InvalidLabelsError, match="labels"):
        ClassifierLabels.from_rows(column, BINARY, rows.scores, rows.predicted, rows.labels[:10])
    with pytest.raises(InvalidLabelsError, match="labels"):
        RegressorLabels.from_rows([1.0, 2.0], ["a", "b"])
    reg = RegressorLabels.from_rows([1.0, 2.0, 3.0], [1.5, float("nan"), 2.0])
    assert reg.count == 2 and reg.invalid_label_count == 1
    with pytest.raises(MetricKindError, match="'rmse' is not a classifier metric"):
        check_metric("rmse", "binary")
    with pytest.raises(MetricKindError, match="'accuracy' is not a regressor metric"):
        below_floor(realised_regressor(reg), "accuracy", 0.9, estimated=False)


def test_quality_floor_uses_the_band_for_estimates() -> None:
    rng = np.random.default_rng(6)
    rows = binary_rows(rng, 20_000)
    _, column, calibration = _setup(rows, BINARY)
    window = binary_rows(rng, 2_000)
    estimate = estimate_performance(ScoreHistogram.from_rows(column, BINARY, window.scores, window.predicted),
                                    column, calibration)
    acc = estimate.metric("accuracy")
    assert acc.low is not None and acc.high is not None
    assert not below_floor(estimate, "accuracy", acc.value + 0.001, estimated=True)  # inside the band
    assert below_floor(estimate, "accuracy", acc.high + 0.01, estimated=True)
    reg = realised_regressor(RegressorLabels.from_rows([1.0, 2.0], [1.5, 2.5]))
    assert below_floor(reg, "mae", 0.4, estimated=False) and not below_floor(reg, "mae", 0.6, estimated=False)


def test_a_reference_without_labels_cannot_be_calibrated() -> None:
    rng = np.random.default_rng(7)
    rows = binary_rows(rng, 2_000)
    baseline = build_baseline({"score": rows.scores, "class": rows.predicted}, categorical=["class"],
                              model_sha256="0" * 64, version="v")
    with pytest.raises(MissingLabelsError, match="no label column"):
        reference_calibration(baseline, BINARY, rows.scores, rows.predicted, None)
    with pytest.raises(MissingLabelsError, match="none of the labels"):
        reference_calibration(baseline, BINARY, rows.scores, rows.predicted, np.full(2_000, "dog", dtype=object))
    calibrated = reference_calibration(baseline, BINARY, rows.scores, rows.predicted, rows.labels)
    assert label_calibration(calibrated) is not None
    no_score = build_baseline({"class": rows.predicted}, categorical=["class"], model_sha256="0", version="v")
    with pytest.raises(MissingLabelsError, match="score"):
        reference_calibration(no_score, BINARY, rows.scores, rows.predicted, rows.labels)
