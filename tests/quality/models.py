"""Labelled rows from simulated binary and multiclass models, well and badly calibrated, under covariate shift.

A row's true probability of class 1 is ``sigmoid(x)``; the model reports ``sigmoid(sharpness * x)``:
sharpness 1 is a well-calibrated model, 2.5 an overconfident one. Covariate shift moves the mean of
``x``. Randomness only through the generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Rows:
    scores: NDArray[np.float64]  # top-class probability
    predicted: NDArray[np.int64]
    labels: NDArray[np.int64]
    positive_probability: NDArray[np.float64]  # the model's P(class 1), for AUC checks


def binary_rows(rng: np.random.Generator, rows: int, *, sharpness: float = 1.0, shift: float = 0.0) -> Rows:
    x = rng.normal(shift, 1.5, rows)
    truth = 1 / (1 + np.exp(-x))
    p1 = 1 / (1 + np.exp(-sharpness * x))
    labels = (rng.random(rows) < truth).astype(np.int64)
    predicted = (p1 >= 0.5).astype(np.int64)
    return Rows(np.where(predicted == 1, p1, 1 - p1), predicted, labels, p1)


def multiclass_rows(rng: np.random.Generator, rows: int, *, sharpness: float = 1.0, shift: float = 0.0) -> Rows:
    logits = rng.normal(0, 1.2, (rows, 4)) + np.array([shift, 0, 0, 0])
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    model = np.exp(sharpness * logits) / np.exp(sharpness * logits).sum(axis=1, keepdims=True)
    labels = (rng.random(rows)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1)
    predicted = model.argmax(axis=1)
    return Rows(model.max(axis=1), predicted, labels.astype(np.int64), model[:, 0])
