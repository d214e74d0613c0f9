"""Mergeable label and score aggregates: what a collector or the store keeps per time step.

A classifier's rows are summarised over the bins of the baseline's ``score`` column (the top-class
probability), split by predicted class:

- :class:`ScoreHistogram`: rows per (predicted class, score bin), no labels: what estimation needs;
- :class:`ClassifierLabels`: the same counts plus how many of them were right, and the confusion
  matrix (predicted x actual): what the realised metrics need, and, made from the reference's rows
  with their labels, the baseline's *calibration* (the accuracy of each score bin);
- :class:`RegressorLabels`: count and sums of the error, its square and its absolute value.

Every aggregate merges exactly by adding (``merged``), so per-step aggregates roll up to any window,
in any order, like drift's window counts. Scores are binned over a fixed subset of the score
column's edges, :func:`score_layout` (the edges a cloud collector reads, so local and cloud windows
share them), right-closed as in :mod:`drift.binning`. Rows whose label is not usable (an unknown
class, a non-finite number, null) are counted apart in ``invalid_label_count``; rows without a
finite score in ``invalid_score_count`` (a labelled row without a score, such as a label file that
gives the prediction but not its score, still counts in the confusion matrix, so accuracy, precision
and recall use it; only the score bins, and so AUC and calibration, leave it out). Nothing else is lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drift.baseline import NumericColumn
from drift.binning import coarsen, common_layout
from drift.categories import class_codes
from drift.cloud import bin_edges_for_cloud
from drift.errors import DriftError
from quality.errors import IncompatibleScoresError, InvalidLabelsError

FORMAT = 1
IntArray = NDArray[np.int64]


def score_layout(column: NumericColumn) -> IntArray:
    """The score edges label aggregates are counted at (those ``bin_edges_for_cloud`` picks)."""
    return np.asarray(bin_edges_for_cloud(column).layout, dtype=np.int64)


def _score_bins(column: NumericColumn, layout: IntArray, scores: object) -> tuple[IntArray, NDArray[np.bool_]]:
    arr = np.asarray(scores, dtype=np.float64) if not isinstance(scores, np.ndarray) else scores
    if arr.ndim != 1 or arr.dtype.kind not in "fiu":
        raise InvalidLabelsError("scores", f"expected a 1-D array of numbers, got {arr.dtype} {arr.shape}")
    values = arr.astype(np.float64, copy=False)
    finite = np.isfinite(values)
    return np.searchsorted(column.edges[layout], values, "left"), finite


def _codes(values: object, classes: tuple[str, ...], field: str, size: int) -> IntArray:
    try:
        codes = class_codes(values, classes, field)
    except DriftError as exc:
        raise InvalidLabelsError(field, str(exc)) from exc
    if codes.size != size:
        raise InvalidLabelsError(field, f"{codes.size} values for {size} rows")
    return codes


def _int_matrix(data: Mapping[str, Any], key: str, shape: tuple[int, int]) -> IntArray:
    raw = data.get(key)
    try:
        arr = np.asarray(raw, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise InvalidLabelsError(key, "expected a matrix of whole numbers") from exc
    if arr.shape != shape or (arr.size and arr.min() < 0):
        raise InvalidLabelsError(key, f"expected a {shape} matrix of counts >= 0")
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class ScoreHistogram:
    """Rows per predicted class (rows of ``counts``) and score bin (``len(layout) + 1`` columns)."""

    column_digest: str
    layout: IntArray
    classes: tuple[str, ...]
    counts: IntArray

    @property
    def total_count(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def from_rows(cls, column: NumericColumn, classes: Sequence[str], scores: object, predicted: object
                  ) -> ScoreHistogram:
        """Count raw rows (top-class score and predicted class); other classes and bad scores are dropped."""
        keys = tuple(str(c) for c in classes)
        layout = score_layout(column)
        bins, finite = _score_bins(column, layout, scores)
        codes = _codes(predicted, keys, "predicted", bins.size)
        keep = finite & (codes >= 0) & (codes < len(keys))
        width = layout.size + 1
        flat = np.bincount(codes[keep] * width + bins[keep], minlength=len(keys) * width)
        return cls(column.digest, layout, keys, flat.reshape(len(keys), width).astype(np.int64))

    def coarsened(self, layout: IntArray) -> IntArray:
        return np.stack([coarsen(row, self.layout, layout) for row in self.counts])


@dataclass(frozen=True, slots=True, eq=False)
class ClassifierLabels:
    """Labelled classifier rows: per (predicted class, score bin) rows and correct rows, the
    confusion matrix (predicted x actual, over ``classes``) and the rows that could not be used."""

    column_digest: str
    layout: IntArray
    classes: tuple[str, ...]
    counts: IntArray
    correct: IntArray
    confusion: IntArray
    invalid_label_count: int = 0
    invalid_score_count: int = 0

    kind = "classifier"

    @property
    def labelled_count(self) -> int:
        """Labelled rows with a score (those in the score bins: what a calibration learns from)."""
        return int(self.counts.sum())

    @property
    def confusion_count(self) -> int:
        """Every labelled row, with or without a score (the confusion matrix's rows)."""
        return int(self.confusion.sum())

    @property
    def histogram(self) -> ScoreHistogram:
        return ScoreHistogram(self.column_digest, self.layout, self.classes, self.counts)

    @classmethod
    def from_rows(cls, column: NumericColumn, classes: Sequence[str], scores: object, predicted: object,
                  labels: object) -> ClassifierLabels:
        """Aggregate labelled rows (the reference's, for a baseline calibration, or a window's).

        Raises
        ------
        InvalidLabelsError
            Arrays of different lengths, non-numeric scores or labels of an unusable dtype.
        """
        keys = tuple(str(c) for c in classes)
        if len(keys) < 2 or len(set(keys)) != len(keys):
            raise InvalidLabelsError("classes", "need at least two distinct classes")
        layout = score_layout(column)
        bins, finite = _score_bins(column, layout, scores)
        predicted_codes = _codes(predicted, keys, "predicted", bins.size)
        label_codes = _codes(labels, keys, "labels", bins.size)
        known = (predicted_codes >= 0) & (predicted_codes < len(keys))
        valid_label = (label_codes >= 0) & (label_codes < len(keys))
        labelled = known & valid_label
        keep = finite & labelled
        k, width = len(keys), layout.size + 1
        flat = predicted_codes[keep] * width + bins[keep]
        counts = np.bincount(flat, minlength=k * width).reshape(k, width)
        right = keep & (predicted_codes == label_codes)
        correct = np.bincount(predicted_codes[right] * width + bins[right], minlength=k * width).reshape(k, width)
        # a row without a score still says whether its class was right: it counts in the confusion matrix
        confusion = np.bincount(predicted_codes[labelled] * k + label_codes[labelled], minlength=k * k).reshape(k, k)
        return cls(column.digest, layout, keys, counts.astype(np.int64), correct.astype(np.int64),
                   confusion.astype(np.int64), invalid_label_count=int(np.count_nonzero(known & ~valid_label)),
                   invalid_score_count=int(np.count_nonzero(~finite)))

    def merged(self, other: ClassifierLabels) -> ClassifierLabels:
        """Exact sum of two aggregates over the same score column and classes."""
        if other.column_digest != self.column_digest or other.classes != self.classes:
            raise IncompatibleScoresError("labels", "aggregates over different score bins or classes")
        layout = common_layout(self.layout, other.layout)

        def both(a: ClassifierLabels, matrix: IntArray) -> IntArray:
            return np.stack([coarsen(row, a.layout, layout) for row in matrix])

        return ClassifierLabels(self.column_digest, layout, self.classes,
                                both(self, self.counts) + both(other, other.counts),
                                both(self, self.correct) + both(other, other.correct),
                                self.confusion + other.confusion,
                                self.invalid_label_count + other.invalid_label_count,
                                self.invalid_score_count + other.invalid_score_count)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "kind": self.kind, "column_digest": self.column_digest,
                "layout": self.layout.tolist(), "classes": list(self.classes), "counts": self.counts.tolist(),
                "correct": self.correct.tolist(), "confusion": self.confusion.tolist(),
                "invalid_label_count": self.invalid_label_count, "invalid_score_count": self.invalid_score_count}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassifierLabels:
        """Rebuild from :meth:`to_dict`; raises InvalidLabelsError naming the bad field."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT or data.get("kind") != cls.kind:
            raise InvalidLabelsError("labels", "not a classifier label aggregate of format 1")
        classes = data.get("classes")
        layout_raw = data.get("layout")
        if not isinstance(classes, list) or len(classes) < 2 or not isinstance(layout_raw, list):
            raise InvalidLabelsError("labels.classes", "expected a list of at least two classes and a layout")
        layout = np.asarray(layout_raw, dtype=np.int64)
        k, width = len(classes), layout.size + 1
        counts, correct = _int_matrix(data, "counts", (k, width)), _int_matrix(data, "correct", (k, width))
        if np.any(correct > counts):
            raise InvalidLabelsError("labels.correct", "more correct rows than rows in a bin")
        return cls(str(data.get("column_digest", "")), layout, tuple(str(c) for c in classes), counts, correct,
                   _int_matrix(data, "confusion", (k, k)), int(data.get("invalid_label_count", 0)),
                   int(data.get("invalid_score_count", 0)))


@dataclass(frozen=True, slots=True)
class RegressorLabels:
    """Labelled regressor rows: the count and the sums of ``prediction - label``, its square and its
    absolute value (and of the labels, for their spread), plus the rows that could not be used."""

    count: int
    sum_error: float
    sum_squared_error: float
    sum_absolute_error: float
    sum_label: float
    sum_squared_label: float
    invalid_label_count: int = 0

    kind = "regressor"

    @classmethod
    def from_rows(cls, predictions: object, labels: object) -> RegressorLabels:
        """Aggregate rows; a label that is not a finite number (or a missing prediction) is counted apart."""
        try:
            pred = np.asarray(predictions, dtype=np.float64)
            lab = np.asarray(labels, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidLabelsError("labels", f"a regressor's labels and predictions must be numbers ({exc})") from exc
        if pred.ndim != 1 or pred.shape != lab.shape:
            raise InvalidLabelsError("labels", f"{lab.size} labels for {pred.size} predictions")
        keep = np.isfinite(pred) & np.isfinite(lab)
        err = pred[keep] - lab[keep]
        return cls(int(keep.sum()), float(err.sum()), float(np.dot(err, err)), float(np.abs(err).sum()),
                   float(lab[keep].sum()), float(np.dot(lab[keep], lab[keep])), int(np.count_nonzero(~keep)))

    def merged(self, other: RegressorLabels) -> RegressorLabels:
        return RegressorLabels(self.count + other.count, self.sum_error + other.sum_error,
                               self.sum_squared_error + other.sum_squared_error,
                               self.sum_absolute_error + other.sum_absolute_error, self.sum_label + other.sum_label,
                               self.sum_squared_label + other.sum_squared_label,
                               self.invalid_label_count + other.invalid_label_count)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "kind": self.kind, "count": self.count, "sum_error": self.sum_error,
                "sum_squared_error": self.sum_squared_error, "sum_absolute_error": self.sum_absolute_error,
                "sum_label": self.sum_label, "sum_squared_label": self.sum_squared_label,
                "invalid_label_count": self.invalid_label_count}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegressorLabels:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT or data.get("kind") != cls.kind:
            raise InvalidLabelsError("labels", "not a regressor label aggregate of format 1")
        try:
            return cls(int(data["count"]), float(data["sum_error"]), float(data["sum_squared_error"]),
                       float(data["sum_absolute_error"]), float(data["sum_label"]), float(data["sum_squared_label"]),
                       int(data.get("invalid_label_count", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidLabelsError("labels", f"missing or non-numeric field ({exc})") from exc
