"""What a model answers (:class:`Prediction`) and what any model offers (:class:`Model`): shared by the
model wrappers (``model``) and the deadline runner (``deadline``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Prediction:
    """A classifier's per-row class probabilities ``(n, k)`` (None when the model gives none) and predicted
    labels ``(n,)`` (int64 class indices or labels, or strings as objects); a regressor's ``values`` ``(n,)``."""

    probabilities: NDArray[np.float32] | None
    labels: NDArray[Any] | None
    values: NDArray[np.float64] | None = None

    @property
    def n_rows(self) -> int:
        for part in (self.labels, self.values, self.probabilities):
            if part is not None:
                return int(part.shape[0])
        return 0

    @property
    def scores(self) -> NDArray[np.float32]:
        """Probability of the most probable class per row."""
        if self.probabilities is None:
            raise ValueError("a prediction without probabilities has no scores")
        return np.asarray(self.probabilities.max(axis=1), dtype=np.float32)

    def rows(self, start: int, stop: int) -> Prediction:
        def part(a: NDArray[Any] | None) -> NDArray[Any] | None:
            return None if a is None else a[start:stop]

        return Prediction(part(self.probabilities), part(self.labels), part(self.values))


class Model(Protocol):
    """Anything that predicts a batch of rows ``(n, n_features)`` (float32, or objects when some features
    are strings); blocking, thread-safe."""

    @property
    def version(self) -> str: ...

    def predict(self, x: NDArray[Any]) -> Prediction: ...
