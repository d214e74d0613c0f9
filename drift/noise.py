"""Noise floors: how large each statistic gets under no drift, for given sample sizes.

Under no drift the reference and current proportions differ by sampling noise only; for large
samples ``p_ref - p_cur ~ sqrt(1/N_ref + 1/N_cur) * Z`` with ``Z ~ Normal(0, diag(p) - p p^T)``
(the multinomial limit). The cumulative sums of ``Z`` over ordered bins are a Brownian bridge
evaluated at the reference's cumulative shares, so every statistic here is, to first order, a fixed
functional of one bridge: KS, Wasserstein, TVD, JS distance and Hellinger scale with
``sqrt(1/N_ref + 1/N_cur)``, PSI with ``1/N_ref + 1/N_cur``.

A :class:`NullShape` per statistic holds its 99% and 99.9% quantiles and its mean square under that
limit (unit scale). Where the functional is a chi-square (``sum(Z^2 / p)`` has exactly ``k - 1``
degrees of freedom: PSI, JS, Hellinger) the quantiles are closed forms (Wilson-Hilferty). KS,
Wasserstein and TVD come from one set of bridge paths simulated once per process with a fixed seed
(baselines are deterministic) on a grid of shares, shared by every column: a column only maps its
edges onto the grid, which is what makes a baseline cheap to build (~0.3 ms per column instead of
~60 ms for a fresh 1,000 x 1,000 simulation). ``null_constants`` stores the 99% quantiles, as before.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from drift.errors import InvalidInputError

QUANTILE = 0.99
REPLICATES = 2000
GRID = 512  # bridge points on [0, 1]: shares are placed on a 1/512 grid (KS loses < 1% at 1,000 bins)
# Wasserstein integrates |bridge| over the quantile function: a smooth functional, so every 4th grid
# point is enough, and the per-column product then costs ~0.3 ms instead of ~2 ms.
WD_STRIDE = 4
_SEED = 20261124
_LN2 = math.log(2.0)
_Z99 = 2.3263478740408408  # one-sided normal quantiles
_Z999 = 3.090232306167813
# two-sided normal quantiles: a chi-square with 1 dof is a squared normal, exactly
_TWO_SIDED = {_Z99: 2.5758293035489004, _Z999: 3.2905267314918945}

SQRT_SCALED = ("ks", "wasserstein_sigma", "total_variation", "jensen_shannon", "hellinger")
LINEAR_SCALED = ("psi",)
# The constants each kind of column keeps (what :func:`categorical_constants` and
# :func:`numeric_constants` return): a baseline missing one cannot be read.
CATEGORICAL_CONSTANTS = ("psi", "jensen_shannon", "hellinger", "total_variation")
NUMERIC_CONSTANTS = ("ks", "wasserstein_sigma", *CATEGORICAL_CONSTANTS)


@dataclass(frozen=True, slots=True)
class NullShape:
    """A statistic under no drift at unit scale: 99% and 99.9% quantiles and the mean square
    (mean for the linearly scaled PSI), which the between-window calibration divides by."""

    q99: float
    q999: float
    mean_square: float


@functools.cache
def _bridge() -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Brownian bridge paths at ``j / GRID`` and their absolute values, grid-major (``GRID + 1`` x
    ``REPLICATES``) so that picking the grid points of a column reads contiguous rows."""
    rng = np.random.default_rng(_SEED)
    steps = rng.standard_normal((GRID, REPLICATES), dtype=np.float32) * np.float32(math.sqrt(1.0 / GRID))
    walk = np.zeros((GRID + 1, REPLICATES), dtype=np.float32)
    np.cumsum(steps, axis=0, out=walk[1:])
    u = np.linspace(0.0, 1.0, GRID + 1, dtype=np.float32)[:, None]
    bridge = walk - u * walk[-1:]
    bridge.flags.writeable = False
    magnitude = np.abs(bridge)
    magnitude.flags.writeable = False
    return bridge, magnitude


@functools.cache
def _wd_magnitude() -> NDArray[np.float32]:
    """``|bridge|`` at every ``WD_STRIDE``-th grid point (grid x replicates)."""
    coarse = np.ascontiguousarray(_bridge()[1][::WD_STRIDE])
    coarse.flags.writeable = False
    return coarse


def _grid_positions(cumulative: NDArray[np.float64]) -> NDArray[np.int64]:
    return np.rint(np.clip(cumulative, 0.0, 1.0) * GRID).astype(np.int64)


def _shape(values: NDArray[np.floating], squared: bool = True) -> NullShape:
    """Quantiles and mean square of simulated values. The 99.9% quantile is extrapolated from the 95%
    and 99% ones with a tail exponential in ``s^2`` (exact for the Kolmogorov tail ``2 exp(-2 x^2)``
    and close for chi-like sums): 4,000 paths put only four values beyond it, too few to read it."""
    v = np.asarray(values, dtype=np.float64)
    i95, i99 = int(0.95 * (v.size - 1)), int(QUANTILE * (v.size - 1))
    q95, q99 = (float(x) for x in np.partition(v, [i95, i99])[[i95, i99]])  # a partition, not two sorts
    slope = (q99 * q99 - q95 * q95) / math.log(5.0)  # per unit of log tail probability
    q999 = math.sqrt(max(q99 * q99, q99 * q99 + slope * math.log(10.0)))
    ms = float(np.mean(v * v)) if squared else float(np.mean(v))
    return NullShape(float(q99), q999, ms)


def chi_square_quantile(dof: int, z: float) -> float:
    """Chi-square quantile at the one-sided normal quantile ``z``: exact for 1 and 2 dof, else the
    Wilson-Hilferty approximation (within 1% at 99.9% from 3 dof)."""
    if dof < 1:
        return 0.0
    if dof == 1 and z in _TWO_SIDED:
        return _TWO_SIDED[z] ** 2
    if dof == 2:  # an exponential with mean 2
        return -2.0 * math.log(0.5 * math.erfc(z / math.sqrt(2.0)))
    c = 2.0 / (9.0 * dof)
    return float(dof * max(0.0, 1.0 - c + z * math.sqrt(c)) ** 3)


def _chi_square_shapes(dof: int) -> dict[str, NullShape]:
    """PSI, JS and Hellinger under no drift: functions of a chi-square with ``dof`` degrees of freedom."""
    q99, q999 = chi_square_quantile(dof, _Z99), chi_square_quantile(dof, _Z999)
    return {
        "psi": NullShape(q99, q999, float(dof)),
        "jensen_shannon": NullShape(math.sqrt(q99 / (8 * _LN2)), math.sqrt(q999 / (8 * _LN2)), dof / (8 * _LN2)),
        "hellinger": NullShape(math.sqrt(q99 / 8), math.sqrt(q999 / 8), dof / 8),
    }


def _total_variation(probs: NDArray[np.float64]) -> NullShape:
    """0.5 * sum |Z_i|: simulated on the bridge for few bins, a normal sum (CLT) for many."""
    positive = probs[probs > 0]
    if positive.size <= 64:
        pos = _grid_positions(np.concatenate(([0.0], np.cumsum(positive))))
        if np.all(np.diff(pos) > 0):  # every bin spans grid steps: its bridge increment has its variance
            return _bridge_total_variation(pos.tobytes())
        rng = np.random.default_rng(_SEED)
        g = rng.standard_normal((REPLICATES, positive.size)) * np.sqrt(positive)
        gaps = g - positive * g.sum(axis=1, keepdims=True)
        return _shape(0.5 * np.sum(np.abs(gaps), axis=1))
    var = positive * (1 - positive)
    mean = 0.5 * float(np.sum(np.sqrt(2 * var / math.pi)))
    sd = 0.5 * math.sqrt(float(np.sum(var)) * (1 - 2 / math.pi))
    return NullShape(mean + _Z99 * sd, mean + _Z999 * sd, mean * mean + sd * sd)


@functools.lru_cache(maxsize=256)
def _bridge_total_variation(positions: bytes) -> NullShape:
    """TVD under no drift for bins ending at these grid points (cached: deciles of continuous columns
    land on the same points)."""
    bridge, _ = _bridge()
    pos = np.frombuffer(positions, dtype=np.int64)
    return _shape(0.5 * np.sum(np.abs(np.diff(bridge[pos], axis=0)), axis=0))


def proportion_shapes(probs: NDArray[np.float64]) -> dict[str, NullShape]:
    """PSI, JS, Hellinger and TVD over bins with reference shares ``probs``."""
    dof = int(np.count_nonzero(probs > 0)) - 1
    return {**_chi_square_shapes(dof), "total_variation": _total_variation(probs)}


def numeric_shapes(fine_counts: NDArray[np.int64], edges: NDArray[np.float64], coarse_index: NDArray[np.int64],
                   std: float) -> dict[str, NullShape]:
    """Null shapes of every statistic for a numeric column (fine counts, edges, coarse layout, sigma)."""
    total = float(fine_counts.sum())
    cum = np.cumsum(fine_counts[:-1]) / total  # share at or below each edge
    pos = _grid_positions(cum)
    shapes: dict[str, NullShape] = {}
    visited = np.unique(pos)
    shapes["ks"] = _ks_shape(visited.tobytes()) if visited.size else NullShape(0.0, 0.0, 0.0)
    widths = np.diff(edges)
    if widths.size:
        # |gap| is linear between edges: the trapezoid weights of each edge, summed per grid point
        wd_pos = np.rint(np.clip(cum, 0.0, 1.0) * (GRID // WD_STRIDE)).astype(np.int64)
        weights = np.bincount(wd_pos[:-1], 0.5 * widths, GRID // WD_STRIDE + 1)
        weights += np.bincount(wd_pos[1:], 0.5 * widths, GRID // WD_STRIDE + 1)
        # einsum, not BLAS: a product this small costs more in waking BLAS threads than in arithmetic
        wass = np.einsum("i,ij->j", weights.astype(np.float32), _wd_magnitude()) / np.float32(std if std > 0 else 1.0)
    else:
        wass = np.zeros(REPLICATES, dtype=np.float32)
    shapes["wasserstein_sigma"] = _shape(wass)
    starts = np.concatenate(([0], coarse_index + 1))
    shapes.update(proportion_shapes(np.add.reduceat(fine_counts, starts) / total))
    return shapes


@functools.lru_cache(maxsize=64)
def _ks_shape(visited: bytes) -> NullShape:
    """KS under no drift when the CDF gap is seen at these grid points (cached: every continuous
    column visits the same ones)."""
    _, magnitude = _bridge()
    idx = np.frombuffer(visited, dtype=np.int64)
    return _shape(np.max(magnitude[idx], axis=0))


def categorical_shapes(counts: NDArray[np.int64]) -> dict[str, NullShape]:
    """Null shapes for a categorical column from its class counts (incl. "other")."""
    return proportion_shapes(counts / max(1, counts.sum()))


def q99_constants(shapes: Mapping[str, NullShape]) -> dict[str, float]:
    """The 99% quantiles: the ``null_constants`` a baseline stores."""
    return {name: shape.q99 for name, shape in shapes.items()}


def numeric_constants(fine_counts: NDArray[np.int64], edges: NDArray[np.float64], coarse_index: NDArray[np.int64],
                      std: float) -> dict[str, float]:
    """Null constants (99% quantiles) for a numeric column from its fine counts, edges and coarse layout."""
    return q99_constants(numeric_shapes(fine_counts, edges, coarse_index, std))


def categorical_constants(counts: NDArray[np.int64]) -> dict[str, float]:
    """Null constants (99% quantiles) for a categorical column from its class counts (incl. "other")."""
    return q99_constants(categorical_shapes(counts))


def _scale(statistic: str, n_reference: int, n_current: int, excess: float = 0.0, inflation: float = 1.0) -> float:
    if n_reference < 1 or n_current < 1:
        raise InvalidInputError("n", f"sample sizes must be >= 1, got {n_reference} and {n_current}")
    scale = max(1.0, inflation) * (1.0 / n_reference + 1.0 / n_current) + max(0.0, excess)
    return scale if statistic in LINEAR_SCALED else math.sqrt(scale)


def noise_floor(constants: Mapping[str, float], statistic: str, n_reference: int, n_current: int,
                *, excess: float = 0.0, inflation: float = 1.0) -> float:
    """The 99th percentile of ``statistic`` under no drift for these sample sizes.

    Parameters
    ----------
    constants
        The column's null constants (``NumericColumn.null_constants``).
    statistic
        A statistic name from :data:`SQRT_SCALED` or :data:`LINEAR_SCALED`.
    n_reference, n_current
        Sample sizes (>= 1).
    excess
        Between-window variation learned from the reference (:mod:`drift.calibration`), in the same
        unit as ``1/N``: it adds to ``1/N_ref + 1/N_cur`` and does not shrink with N.
    inflation
        How much larger this data's sampling noise is than the Gaussian limit (>= 1; heavy tails);
        it multiplies ``1/N_ref + 1/N_cur``.

    Returns
    -------
    float
        The floor, >= 0.

    Raises
    ------
    InvalidInputError
        Unknown statistic or a sample size below 1.
    """
    if statistic not in constants:
        raise InvalidInputError("statistic", f"no noise constant for {statistic!r}")
    return float(constants[statistic]) * _scale(statistic, n_reference, n_current, excess, inflation)


def rate_noise_floor(reference_rate: float, n_reference: int, n_current: int) -> float:
    """One-sided 99% bound on how much a rate can rise under no drift (normal approximation)."""
    if n_reference < 1 or n_current < 1:
        raise InvalidInputError("n", f"sample sizes must be >= 1, got {n_reference} and {n_current}")
    p = min(1.0, max(0.0, reference_rate))
    return _Z99 * math.sqrt(p * (1.0 - p) * (1.0 / n_reference + 1.0 / n_current))
