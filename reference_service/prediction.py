"""What a model answers (:class:`Prediction`) and what any model offers (:class:`Model`): shared by the
model wrappers (``model``) and the deadline runner (``deadline``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Prediction:
    """Per-row class probabilities ``(n, k)`` and the predicted class index per row ``(n,)``."""

    probabilities: NDArray[np.float32]
    labels: NDArray[np.int64]

    @property
    def scores(self) -> NDArray[np.float32]:
        """Probability of the predicted class per row."""
        return self.probabilities[np.arange(len(self.labels)), self.labels]

    def rows(self, start: int, stop: int) -> Prediction:
        return Prediction(self.probabilities[start:stop], self.labels[start:stop])


class Model(Protocol):
    """Anything that predicts a float32 batch ``(n, n_features)``; blocking, thread-safe."""

    @property
    def version(self) -> str: ...

    def predict(self, x: NDArray[np.float32]) -> Prediction: ...
