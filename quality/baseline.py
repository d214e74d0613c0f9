"""A baseline's label calibration: the labelled reference aggregate stored in the baseline itself.

``baseline create`` with a label column builds :class:`~quality.aggregates.ClassifierLabels` from the
reference rows (top-class score, predicted class, label) and stores its dict in the baseline's
optional ``label_calibration`` field (baselines without labels have None there, and older ones
load as such).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from drift.baseline import Baseline, NumericColumn
from quality.aggregates import ClassifierLabels
from quality.errors import IncompatibleScoresError, MissingLabelsError

SCORE_SIGNAL = "score"


def score_column(baseline: Baseline) -> NumericColumn:
    """The baseline's numeric ``score`` column (what classifier quality is measured over)."""
    column = baseline.columns.get(SCORE_SIGNAL)
    if not isinstance(column, NumericColumn):
        raise MissingLabelsError("baseline", f"has no numeric {SCORE_SIGNAL!r} signal to calibrate")
    return column


def with_label_calibration(baseline: Baseline, labels: ClassifierLabels) -> Baseline:
    """A copy of ``baseline`` carrying ``labels`` (made over its score column) as its calibration."""
    if labels.column_digest != score_column(baseline).digest:
        raise IncompatibleScoresError(SCORE_SIGNAL, "labels were counted over another baseline's score bins")
    return replace(baseline, label_calibration=labels.to_dict())


def reference_calibration(baseline: Baseline, classes: Sequence[str], scores: object, predicted: object,
                          labels: object | None) -> Baseline:
    """``baseline`` with the calibration of its reference rows (what ``baseline create`` with a label
    column does): top-class scores, predicted classes and labels of the same rows.

    Raises
    ------
    MissingLabelsError
        No labels (the label column is missing from the reference), or no usable label at all.
    InvalidLabelsError
        Labels or predictions of an unusable type or length.
    """
    if labels is None:
        raise MissingLabelsError("reference", "no label column: a calibration needs the reference's labels")
    aggregate = ClassifierLabels.from_rows(score_column(baseline), classes, scores, predicted, labels)
    if aggregate.labelled_count == 0:
        raise MissingLabelsError("reference", f"none of the labels is one of the classes {list(classes)} "
                                 f"({aggregate.invalid_label_count} unusable)")
    return with_label_calibration(baseline, aggregate)


def label_calibration(baseline: Baseline) -> ClassifierLabels | None:
    """The baseline's calibration, or None when it was made without labels."""
    raw = baseline.label_calibration
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise MissingLabelsError("baseline.label_calibration", "expected a mapping")
    return ClassifierLabels.from_dict(raw)
