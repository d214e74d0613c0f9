"""Generated feature shapes with drift of known size, for the calibration and recall tests and benches.

Each shape draws ``rows`` values with a drift parameter ``d`` (0 = the reference distribution).
``moderate`` is a drift that sits just under the old fixed 0.1 effect thresholds (Wasserstein ~0.09
sigma, JS 0.03-0.06): it must be flagged from 10k rows per window. ``small_window`` is the drift a
1k-row window must flag: at 1k rows the 99.9% level of chance alone is ~0.11 sigma, so a 0.09 sigma
shift cannot be told from noise in one window by any method, and the test uses a 0.25 sigma one.
Randomness only through the generator passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Sampler = Callable[[np.random.Generator, int, float], NDArray[np.generic]]


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    categorical: bool
    sample: Sampler
    moderate: float
    small_window: float


def _normal(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    return rng.normal(0.0, 1.0, rows) + d  # d in sigma


def _lognormal(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    return rng.lognormal(0.0, 1.0, rows) * (1.0 + d)  # heavy tail; d = relative price change


def _poisson(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    return rng.poisson(3.0 * (1.0 + d), rows).astype(np.float64)  # counts; W1 = 3 d, sigma 1.73


def _zero_inflated(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    values = rng.lognormal(1.0, 0.5, rows)
    values[rng.random(rows) < 0.4 + d] = 0.0  # d = extra share of zeros
    return values


def _rounded_int(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    return np.round(rng.normal(40.0, 3.0, rows) + 3.0 * d)  # ages, scores: 1 unit = 0.33 sigma


def _rounded_decimal(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    return np.round(rng.normal(5.0, 1.0, rows) + d, 1).astype(np.float32)


_ZIPF = 1.0 / np.arange(1, 61)
_ZIPF /= _ZIPF.sum()


def _many_class(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    p = _ZIPF.copy()
    moved = d * p[:5] / p[:5].sum()
    p[:5] -= moved  # d of the mass leaves the top 5 classes for the 30 rarest
    p[30:] += d / 30
    return rng.choice(60, rows, p=p)


def _boolean(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    return rng.random(rows) < 0.3 + d


_CHANNELS = np.array(["web", "app", "store", "phone", "partner"], dtype=object)


def _channel_mix(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    p = np.array([0.4 - d, 0.25 + d, 0.15, 0.12, 0.08])  # d moves from web to app
    return _CHANNELS[rng.choice(5, rows, p=p)]


def _constant(rng: np.random.Generator, rows: int, d: float) -> NDArray[np.generic]:
    values = np.full(rows, 7.0)
    values[rng.random(rows) < d] = 8.0  # d = share of values that changed
    return values


SHAPES: tuple[Shape, ...] = (
    Shape("normal", False, _normal, 0.09, 0.25),
    Shape("lognormal", False, _lognormal, 0.12, 0.35),
    Shape("poisson", False, _poisson, 0.05, 0.15),
    Shape("zero_inflated", False, _zero_inflated, 0.06, 0.15),
    Shape("rounded_int", False, _rounded_int, 0.09, 0.25),
    Shape("rounded_decimal", False, _rounded_decimal, 0.09, 0.25),
    Shape("many_class", True, _many_class, 0.06, 0.15),
    Shape("boolean", True, _boolean, 0.04, 0.1),
    Shape("channel_mix", True, _channel_mix, 0.05, 0.12),
    Shape("constant", False, _constant, 0.05, 0.1),
)
