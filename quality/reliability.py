"""The baseline's calibration: how often the model is right at each top-class score, learned from
the reference's labelled rows (:class:`~quality.aggregates.ClassifierLabels`), and a check of it.

Per predicted class, neighbouring score bins are pooled until each group holds at least
``MIN_GROUP_ROWS`` reference rows; a group's accuracy is its correct share with a Jeffreys prior,
made non-decreasing in the score by pool-adjacent-violators (isotonic regression, as NannyML's CBPE
calibrates on the reference). The curve maps a window's score bins to the probability that each of
its rows is right, which is what estimation without labels needs. A well-calibrated model's curve
is the diagonal (accuracy = confidence); :func:`calibration_check` measures how far it is from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from drift.baseline import NumericColumn
from drift.binning import coarsen
from quality.aggregates import ClassifierLabels, IntArray
from quality.errors import InsufficientLabelsError

MIN_GROUP_ROWS = 50
MIN_CALIBRATION_ROWS = 100
CHECK_GROUPS = 15  # the check pools scores into ~15 groups, as reliability diagrams usually do
FloatArray = NDArray[np.float64]


def bin_scores(column: NumericColumn, layout: IntArray) -> FloatArray:
    """A representative top-class score per bin of ``layout`` (midpoints; the range ends outside)."""
    edges = column.edges[layout]
    points = np.concatenate(([column.min], (edges[:-1] + edges[1:]) / 2, [column.max]))
    points[1] = 0.5 * (column.min + edges[1]) if edges.size > 1 else column.min
    return np.clip(points, 0.0, 1.0)


def _groups(counts: IntArray, min_rows: int = MIN_GROUP_ROWS) -> IntArray:
    """Group id of each bin: consecutive bins pooled until a group has ``min_rows`` rows."""
    ids = np.zeros(counts.size, dtype=np.int64)
    group, filled = 0, 0
    for i, c in enumerate(counts.tolist()):
        ids[i] = group
        filled += c
        if filled >= min_rows and i < counts.size - 1:
            group, filled = group + 1, 0
    if filled < min_rows and group > 0:  # a short tail joins the group before it
        ids[ids == group] = group - 1
    return ids


def _isotonic(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Weighted non-decreasing least-squares fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [value, weight, size]
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        blocks.append([v, max(w, 1e-12), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(int(n), v) for v, _, n in blocks]) if blocks else np.empty(0)


@dataclass(frozen=True, slots=True, eq=False)
class Reliability:
    """Per predicted class (rows) and score bin (columns of ``layout``): the calibrated probability
    of being right, and the Beta posterior of each bin's group (for the uncertainty band)."""

    layout: IntArray
    probability: FloatArray
    alpha: FloatArray
    beta: FloatArray
    calibrated_classes: tuple[bool, ...]  # False: no reference rows for the class, confidence used
    groups: IntArray | None = None  # per class and bin, the group whose posterior it shares (None: its own)

    def draw(self, rng: np.random.Generator, draws: int) -> FloatArray:
        """``draws`` samples of the curve, shape (draws, classes, bins): one draw per group, shared by its
        bins (drawing each bin alone would average the calibration's error away over the bins of a
        group, and the band would be too narrow)."""
        if self.groups is None:
            return rng.beta(self.alpha, self.beta, size=(draws, *self.alpha.shape))
        out = np.empty((draws, *self.alpha.shape))
        for c in range(self.alpha.shape[0]):
            _, first, inverse = np.unique(self.groups[c], return_index=True, return_inverse=True)
            out[:, c, :] = rng.beta(self.alpha[c, first], self.beta[c, first], size=(draws, first.size))[:, inverse]
        return out


def _split_groups(counts: IntArray, split: int | None) -> IntArray:
    """:func:`_groups`, never pooling bins below ``split`` with bins from it on."""
    if split is None or not 0 < split < counts.size:
        return _groups(counts)
    below = _groups(counts[:split])
    return np.concatenate((below, _groups(counts[split:]) + int(below.max()) + 1))


def reliability(labels: ClassifierLabels, column: NumericColumn, layout: IntArray, *,
                split_at: float | None = None) -> Reliability:
    """The calibration curve of ``labels`` over ``layout`` (a sub-layout of the labels' layout).

    ``split_at`` (a score: the decision threshold of positive-class scores) keeps the bins wholly under
    it out of the groups above it: a group that mixed rows predicted negative and positive would give
    both the same probability, which is wrong for both when the scores are well separated."""
    counts = np.stack([coarsen(row, labels.layout, layout) for row in labels.counts]).astype(np.float64)
    correct = np.stack([coarsen(row, labels.layout, layout) for row in labels.correct]).astype(np.float64)
    scores = bin_scores(column, layout)
    split = None if split_at is None else int(np.searchsorted(column.edges[layout], split_at, side="right"))
    prob, alpha, beta = (np.empty_like(counts) for _ in range(3))
    groups = np.tile(np.arange(counts.shape[1], dtype=np.int64), (counts.shape[0], 1))
    calibrated = []
    for c in range(counts.shape[0]):
        if counts[c].sum() < MIN_GROUP_ROWS:  # the reference never predicted this class (enough)
            prob[c], alpha[c], beta[c] = scores, scores * 1000, (1 - scores) * 1000
            calibrated.append(False)
            continue
        ids = _split_groups(counts[c].astype(np.int64), split)
        g_count = np.bincount(ids, counts[c]).astype(np.float64)
        g_correct = np.bincount(ids, correct[c])
        g_alpha, g_beta = g_correct + 0.5, g_count - g_correct + 0.5
        fitted = _isotonic(g_alpha / (g_alpha + g_beta), g_count)
        prob[c], alpha[c], beta[c], groups[c] = fitted[ids], g_alpha[ids], g_beta[ids], ids
        calibrated.append(True)
    return Reliability(layout, prob, alpha, beta, tuple(calibrated), groups)


@dataclass(frozen=True, slots=True)
class CalibrationCheck:
    """How far the reference's accuracy per score group is from its confidence.

    ``expected_calibration_error`` (ECE) is the row-weighted mean of ``|accuracy - confidence|``
    over the groups, ``noise_level`` what ECE a perfectly calibrated model would show with this many
    rows (the expected absolute sampling error), ``calibrated`` whether ECE is within twice that
    plus one point. ``curve`` lists (mean confidence, accuracy, rows) per group.
    """

    expected_calibration_error: float
    max_gap: float
    noise_level: float
    calibrated: bool
    labelled_count: int
    curve: tuple[tuple[float, float, int], ...]


def calibration_check(labels: ClassifierLabels, column: NumericColumn) -> CalibrationCheck:
    """Check the calibration of the reference's scores against its labels: per score group, the share of
    rows counted right (``labels.correct``: right predictions for top-class scores, or positive labels once
    :func:`quality.marginal.pooled` has pooled positive-class scores).

    Raises
    ------
    InsufficientLabelsError
        Fewer than ``MIN_CALIBRATION_ROWS`` labelled reference rows.
    """
    n = labels.labelled_count
    if n < MIN_CALIBRATION_ROWS:
        raise InsufficientLabelsError("a calibration check", n, MIN_CALIBRATION_ROWS)
    scores = bin_scores(column, labels.layout)
    pooled_counts = labels.counts.sum(axis=0)
    pooled_correct = labels.correct.sum(axis=0)
    ids = _groups(pooled_counts, max(MIN_GROUP_ROWS, n // CHECK_GROUPS))
    g_n = np.bincount(ids, pooled_counts.astype(np.float64))
    g_conf = np.bincount(ids, pooled_counts * scores) / np.maximum(g_n, 1)
    g_acc = np.bincount(ids, pooled_correct.astype(np.float64)) / np.maximum(g_n, 1)
    gaps = np.abs(g_acc - g_conf)
    ece = float(np.sum(g_n * gaps) / n)
    noise = float(np.sum(g_n * np.sqrt(2 / math.pi * g_acc * (1 - g_acc) / np.maximum(g_n, 1))) / n)
    curve = tuple((float(c), float(a), int(k)) for c, a, k in zip(g_conf, g_acc, g_n, strict=True) if k > 0)
    return CalibrationCheck(ece, float(gaps[g_n > 0].max()), noise, ece <= 2 * noise + 0.01, n, curve)
