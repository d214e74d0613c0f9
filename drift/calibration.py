"""Thresholds calibrated on the baseline itself: how far a window of N rows strays from it by chance.

Two parts, both learned from the reference when the baseline is built and stored with it:

1. Sampling noise (:mod:`drift.noise`): the 99% and 99.9% quantiles of each statistic under the
   multinomial null at unit scale; times ``sqrt(1/N_ref + 1/N_cur)`` they give the level at any N.
2. Between-window variation (this module): real data is rarely independent draws. Consecutive
   stretches of a reference differ more than sampling alone explains (seasonality, batches, slow
   wobble), and that part does not shrink as windows grow; it is why p-values flag everything at
   1M rows. The reference, in the order given, is cut into ``CHUNKS`` contiguous chunks; each chunk
   is compared with the rest, and ``z_k = s_k^2 / mean_square`` is set against the sampling scale
   ``1/n_k + 1/(N_ref - n_k)`` (NannyML's "statistic over reference chunks" idea, made N-aware).
   The same is done on interleaved chunks (chunk k takes rows k, k + chunks, k + 2 chunks, ...):
   the same values, each chunk spread over the whole reference period, so they differ by sampling
   alone (a free, deterministic stand-in for a shuffle), so they measure the *inflation* of sampling noise over the
   Gaussian limit that this data shows at finite N (heavy tails, few distinct values), which does
   shrink with N; what the ordered chunks show beyond the shuffled ones is the between-window
   *excess*, which does not. The excess is that difference, floored at 0 (for an i.i.d. reference it
   is chunk noise, of the order of the sampling scale of one chunk, so at most a few per cent of the
   level at large N); the inflation is the interleaved chunks' mean excess minus one standard error,
   relative to their scale, never below 1 (heavy tails make it 1.5 to 3 for Wasserstein).

The stored form is sums (chunk count, sum and sum of squares of the excess per statistic), so two
calibrations of the same bins merge by adding (:meth:`Calibration.merged`), in any order.

The critical levels of a window (:func:`noise_levels`) are then
``q * sqrt(inflation * (1/N_ref + 1/N_cur) + excess)`` for the 99% (warn) and 99.9% (breach)
quantiles ``q``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drift import hellinger, jensen_shannon, psi, total_variation
from drift.errors import BaselineError
from drift.noise import LINEAR_SCALED, NullShape, noise_floor
from drift.wasserstein import integrate_gap

CHUNKS = 20
# Chunk statistics use at most this many of the fine edges (every k-th): Wasserstein and KS change by
# well under a percent against 1,000 edges, and the build is four times cheaper.
CALIBRATION_EDGES = 256
MIN_CHUNK_ROWS = 100
MIN_CHUNKS = 5
# Without a stored 99.9% quantile (baselines made before calibration), it is taken as this multiple of
# the 99% one: the ratio of a chi-square with 1 dof (the widest of the statistics here) is 1.28.
LEGACY_Q999_RATIO = 1.3


@dataclass(frozen=True, slots=True)
class StatisticCalibration:
    """One statistic's calibration: its 99.9% quantile and mean square at unit scale, and sums over
    the reference chunks, ordered and shuffled (``z - scale`` and its square), and of their scales."""

    q999: float
    mean_square: float
    chunk_count: int = 0
    excess_sum: float = 0.0
    excess_sum_sq: float = 0.0
    shuffled_sum: float = 0.0
    shuffled_sum_sq: float = 0.0
    scale_sum: float = 0.0

    @property
    def inflation(self) -> float:
        """Sampling noise of this data over the Gaussian limit, from the interleaved chunks: their mean
        excess minus one standard error, relative to the mean scale (>= 1)."""
        k = self.chunk_count
        if k < 2 or self.scale_sum <= 0:
            return 1.0
        mean = self.shuffled_sum / k
        var = max(0.0, (self.shuffled_sum_sq / k - mean * mean) * k / (k - 1))
        return max(1.0, 1.0 + (mean - math.sqrt(var / k)) / (self.scale_sum / k))

    @property
    def excess(self) -> float:
        """Between-window variance in ``1/N`` units: the mean excess of the ordered chunks over the
        interleaved ones, >= 0 (not shrunk: on real data, under-estimating it cries wolf)."""
        if self.chunk_count < 2:
            return 0.0
        return max(0.0, (self.excess_sum - self.shuffled_sum) / self.chunk_count)

    def to_list(self) -> list[float]:
        return [self.q999, self.mean_square, self.chunk_count, self.excess_sum, self.excess_sum_sq,
                self.shuffled_sum, self.shuffled_sum_sq, self.scale_sum]


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per statistic calibration of one baseline column (see the module docstring)."""

    statistics: Mapping[str, StatisticCalibration]
    chunk_rows: int = 0  # typical rows per reference chunk (0: the reference was too small to cut)

    def get(self, statistic: str) -> StatisticCalibration | None:
        return self.statistics.get(statistic)

    def merged(self, other: Calibration) -> Calibration:
        """The calibration of both references' chunks (same bins): sums add; quantiles are kept."""
        out: dict[str, StatisticCalibration] = {}
        for name, mine in self.statistics.items():
            theirs = other.statistics.get(name)
            if theirs is None:
                out[name] = mine
                continue
            sums = [a + b for a, b in zip(mine.to_list()[3:], theirs.to_list()[3:], strict=True)]
            out[name] = StatisticCalibration(mine.q999, mine.mean_square, mine.chunk_count + theirs.chunk_count,
                                             *sums)
        return Calibration(out, max(self.chunk_rows, other.chunk_rows))

    def to_dict(self) -> dict[str, Any]:
        return {"chunk_rows": self.chunk_rows,
                "statistics": {name: s.to_list() for name, s in self.statistics.items()}}

    @classmethod
    def from_dict(cls, where: str, data: object) -> Calibration:
        """Read :meth:`to_dict` output; raises BaselineError naming the bad field."""
        if not isinstance(data, Mapping) or not isinstance(data.get("statistics"), Mapping):
            raise BaselineError(f"{where}.calibration", "expected {chunk_rows, statistics}")
        stats: dict[str, StatisticCalibration] = {}
        for name, raw in data["statistics"].items():
            if (not isinstance(raw, list) or len(raw) != 8 or not all(_finite_number(v) for v in raw)
                    or raw[0] < 0 or raw[1] < 0 or raw[2] < 0):
                raise BaselineError(f"{where}.calibration.{name}", "expected [q999, mean_square, chunks, "
                                    "sum, sum_sq, shuffled_sum, shuffled_sum_sq, scale_sum]")
            stats[str(name)] = StatisticCalibration(float(raw[0]), float(raw[1]), int(raw[2]),
                                                    *(float(v) for v in raw[3:]))
        rows = data.get("chunk_rows", 0)
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise BaselineError(f"{where}.calibration.chunk_rows", "expected a non-negative integer")
        return cls(stats, rows)


def _finite_number(value: object) -> bool:
    """A stored number that reads as a finite float (an integer too large for a float is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


@dataclass(frozen=True, slots=True)
class NoiseLevels:
    """How large a statistic gets by chance in a window of this size: 99% and 99.9% levels."""

    warn: float
    breach: float
    excess: float
    inflation: float = 1.0


def noise_levels(constants: Mapping[str, float], calibration: Calibration | None, statistic: str,
                 n_reference: int, n_current: int) -> NoiseLevels:
    """The 99% (``warn``) and 99.9% (``breach``) levels of ``statistic`` under no drift.

    Parameters
    ----------
    constants
        The column's 99% null constants.
    calibration
        The column's calibration, or None for a baseline built before it (then the 99.9% level is
        ``LEGACY_Q999_RATIO`` times the 99% one and there is no between-window term).
    statistic
        The statistic's name.
    n_reference, n_current
        Sample sizes (>= 1).

    Returns
    -------
    NoiseLevels

    Raises
    ------
    InvalidInputError
        Unknown statistic or a sample size below 1.
    """
    cal = calibration.get(statistic) if calibration is not None else None
    excess = cal.excess if cal is not None else 0.0
    inflation = cal.inflation if cal is not None else 1.0
    warn = noise_floor(constants, statistic, n_reference, n_current, excess=excess, inflation=inflation)
    q99 = float(constants[statistic])
    ratio = (cal.q999 / q99 if cal is not None and q99 > 0 else LEGACY_Q999_RATIO)
    return NoiseLevels(warn=warn, breach=warn * max(1.0, ratio), excess=excess, inflation=inflation)


def _chunk_ids(size: int) -> tuple[NDArray[np.int64], int]:
    """Contiguous chunk index of each position, and the number of chunks (0: too few rows)."""
    chunks = min(CHUNKS, size // MIN_CHUNK_ROWS)
    if chunks < MIN_CHUNKS:
        return np.empty(0, dtype=np.int64), 0
    return (np.arange(size, dtype=np.int64) * chunks) // size, chunks


def _proportion_stats(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """PSI, JS, Hellinger and TVD of each row of ``cur`` against the same row of ``ref`` (vectorised
    forms of the statistic modules' functions, which the tests compare them with)."""
    p = ref / ref.sum(axis=1, keepdims=True)
    q = cur / cur.sum(axis=1, keepdims=True)
    ps = (ref + 0.5) / (ref.sum(axis=1, keepdims=True) + 0.5 * ref.shape[1])
    qs = (cur + 0.5) / (cur.sum(axis=1, keepdims=True) + 0.5 * cur.shape[1])
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0) / m), 0.0).sum(axis=1)
        kl_q = np.where(q > 0, q * np.log2(np.where(q > 0, q, 1.0) / m), 0.0).sum(axis=1)
    root_gap = np.sqrt(p) - np.sqrt(q)
    return {psi.NAME: np.maximum(0.0, np.sum((qs - ps) * np.log(qs / ps), axis=1)),
            jensen_shannon.NAME: np.sqrt(np.clip(0.5 * kl_p + 0.5 * kl_q, 0.0, 1.0)),
            hellinger.NAME: np.sqrt(np.clip(0.5 * np.sum(root_gap * root_gap, axis=1), 0.0, 1.0)),
            total_variation.NAME: 0.5 * np.sum(np.abs(p - q), axis=1)}


def _calibration(ordered: Mapping[str, NDArray[np.float64]], shuffled: Mapping[str, NDArray[np.float64]],
                 sizes: NDArray[np.int64], total: int, shapes: Mapping[str, NullShape]) -> Calibration:
    scale = 1.0 / sizes + 1.0 / np.maximum(1, total - sizes)
    stats: dict[str, StatisticCalibration] = {}
    for name, shape in shapes.items():
        values, control = ordered.get(name), shuffled.get(name)
        if values is None or control is None or shape.mean_square <= 0:
            stats[name] = StatisticCalibration(shape.q999, shape.mean_square)
            continue
        linear = name in LINEAR_SCALED
        excess = (values if linear else values * values) / shape.mean_square - scale
        noise = (control if linear else control * control) / shape.mean_square - scale
        stats[name] = StatisticCalibration(shape.q999, shape.mean_square, int(values.size), float(excess.sum()),
                                           float(np.sum(excess * excess)), float(noise.sum()),
                                           float(np.sum(noise * noise)), float(scale.sum()))
    return Calibration(stats, int(sizes.mean()) if sizes.size else 0)


def uncalibrated(shapes: Mapping[str, NullShape]) -> Calibration:
    """Quantiles only, no chunks (a reference too small to cut, or one rebuilt from counts)."""
    return _calibration({}, {}, np.empty(0, dtype=np.int64), 0, shapes)


def _interleaved(values: NDArray[Any], chunks: int) -> NDArray[Any]:
    """The first ``rows * chunks`` values reordered so that contiguous chunk k holds rows k, k + chunks, ..."""
    rows = values.size // chunks
    out: NDArray[Any] = np.ascontiguousarray(values[: rows * chunks].reshape(rows, chunks).T).ravel()
    return out


def _numeric_chunks(table: NDArray[np.float64], edges: NDArray[np.float64], coarse_index: NDArray[np.int64],
                    std: float, chunks: int) -> dict[str, NDArray[np.float64]]:
    """Every statistic of each row of ``table`` (chunk counts over ``edges``: ``chunks`` contiguous
    chunks, then ``chunks`` interleaved ones) against the rest of the reference."""
    rest = table[:chunks].sum(axis=0) - table  # both halves hold the same values
    gap = np.cumsum(rest / rest.sum(axis=1, keepdims=True) - table / table.sum(axis=1, keepdims=True), axis=1)[:, :-1]
    per_chunk: dict[str, NDArray[np.float64]] = {"ks": np.max(np.abs(gap), axis=1, initial=0.0)}
    widths = np.diff(edges).astype(np.float64)
    wass = integrate_gap(gap, widths) if widths.size else np.zeros(2 * chunks)
    per_chunk["wasserstein_sigma"] = wass / (std if std > 0 else 1.0)
    starts = np.concatenate(([0], coarse_index + 1))
    per_chunk.update(_proportion_stats(np.add.reduceat(rest, starts, axis=1), np.add.reduceat(table, starts, axis=1)))
    return per_chunk


def numeric_calibration(ordered: NDArray[np.floating], order: NDArray[np.intp], edges: NDArray[np.float64],
                        coarse_index: NDArray[np.int64], std: float, shapes: Mapping[str, NullShape]) -> Calibration:
    """Calibration of a numeric column from its sorted finite reference values and the argsort that
    sorted them (``ordered = values[order]``; the original positions give the chunks)."""
    chunks = min(CHUNKS, ordered.size // MIN_CHUNK_ROWS)
    if chunks < MIN_CHUNKS:
        return uncalibrated(shapes)
    stride = max(1, -(-edges.size // CALIBRATION_EDGES))
    keep = np.unique(np.concatenate((np.arange(0, edges.size, stride), coarse_index, [edges.size - 1])))
    sub = edges[keep]
    typed = sub.astype(ordered.dtype) if ordered.dtype != np.float64 else sub  # edges are exact in it
    width = sub.size + 1
    # each sorted value's bin, from where the edges fall in the sorted values (no per-value search)
    bounds = np.concatenate(([0], np.searchsorted(ordered, typed, "right"), [ordered.size]))
    bins = np.repeat(np.arange(width), np.diff(bounds))
    rows = ordered.size // chunks  # equal chunks; the last few values (< chunks) are left out
    used = order < rows * chunks
    position, bins = order[used], bins[used]
    contiguous = np.bincount(position // rows * width + bins, minlength=chunks * width)
    interleaved = np.bincount(position % chunks * width + bins, minlength=chunks * width)
    table = np.concatenate((contiguous, interleaved)).reshape(2 * chunks, width).astype(np.float64)
    both = _numeric_chunks(table, typed, np.searchsorted(keep, coarse_index), std, chunks)
    sizes = np.full(chunks, rows, dtype=np.int64)
    return _calibration({n: v[:chunks] for n, v in both.items()}, {n: v[chunks:] for n, v in both.items()}, sizes,
                        int(sizes.sum()), shapes)


def _categorical_chunks(codes: NDArray[np.int64], classes: int, ids: NDArray[np.int64], chunks: int
                        ) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.int64]]:
    table = np.bincount(ids * classes + codes, minlength=chunks * classes).reshape(chunks, classes).astype(np.float64)
    rest = table.sum(axis=0) - table
    return _proportion_stats(rest, table), table.sum(axis=1).astype(np.int64)


def categorical_calibration(codes: NDArray[np.int64], classes: int, shapes: Mapping[str, NullShape]) -> Calibration:
    """Calibration of a categorical column from each non-null reference value's class code (``classes``
    codes, "other" included), in their original order."""
    ids, chunks = _chunk_ids(codes.size)
    if chunks == 0:
        return uncalibrated(shapes)
    ordered, sizes = _categorical_chunks(codes, classes, ids, chunks)
    rows = codes.size // chunks
    shuffled, _ = _categorical_chunks(_interleaved(codes, chunks), classes, ids[: rows * chunks], chunks)
    return _calibration(ordered, shuffled, sizes, int(codes.size), shapes)
