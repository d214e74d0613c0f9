"""Between a request's rows and a model's tensors: the feed a batch of rows becomes, and what the outputs
mean per task, read exactly as the probe reads them in a team's own handler (``inferwatch_probe.outputs``),
so the emulator reports what the probe would report in production.

Two input layouts: one 2-D input whose columns are the features (``card.input_name``), or one input per
feature (a scikit-learn ColumnTransformer export, each input ``[n, 1]``, strings for categorical ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from inferwatch_probe.outputs import OutputPlan, as_labels
from numpy.typing import NDArray

from reference_service.prediction import Prediction


class InputLayout(Protocol):
    """What the feed needs of a model card (:class:`reference_service.model.ModelCard` has it)."""

    @property
    def input_name(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def column_inputs(self) -> tuple[str, ...]: ...
    @property
    def column_dtypes(self) -> tuple[str, ...]: ...
    @property
    def column_ranks(self) -> tuple[int, ...]: ...

# ONNX tensor types the service can feed, as numpy dtypes
TENSOR_DTYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64",
                 "tensor(int32)": "int32", "tensor(string)": "str", "tensor(bool)": "bool"}


def model_feed(card: InputLayout, x: NDArray[Any]) -> dict[str, NDArray[Any]]:
    """The ``session.run`` feed for rows ``x`` (``(n, n_features)``, in the card's feature order)."""
    if not card.column_inputs:
        return {card.input_name: x if x.dtype == np.dtype(card.dtype) else x.astype(card.dtype)}
    feed: dict[str, NDArray[Any]] = {}
    for j, (name, dtype) in enumerate(zip(card.column_inputs, card.column_dtypes, strict=True)):
        column = x[:, j]
        if dtype == "str":
            typed = np.array([str(v) for v in column], dtype=object)
        else:
            typed = column.astype(dtype)
        feed[name] = typed.reshape(-1, 1) if card.column_ranks[j] == 2 else typed
    return feed


def probabilities_matrix(raw: Any) -> tuple[NDArray[np.float32], tuple[Any, ...] | None]:
    """(``(n, k)`` probabilities, the class of each column when the model says: ZipMap output)."""
    if isinstance(raw, list):  # ZipMap: one {class: probability} per row, in the model's class order
        if not raw:
            return np.empty((0, 0), dtype=np.float32), None
        keys = tuple(raw[0].keys())
        return np.asarray([[row[k] for k in keys] for row in raw], dtype=np.float32), keys
    p = np.asarray(raw, dtype=np.float32)
    return (p.reshape(-1, 1) if p.ndim == 1 else p), None


class OutputReader:
    """Which output holds what, decided once from ``session.get_outputs()`` (the probe's own plan)."""

    def __init__(self, task: str, outputs: Sequence[Any]) -> None:
        self.task = task
        self.plan = OutputPlan.from_outputs(task, outputs)
        self.names = [o.name for o in outputs]

    def read(self, outputs: Sequence[Any]) -> Prediction:
        """The prediction in the outputs ``session.run(None, ...)`` returned."""
        by_name = dict(zip(self.names, outputs, strict=True))
        if self.task == "regression":
            values = self.plan.predictions(self.task, self.names, outputs).values
            return Prediction(None, None, values)
        probabilities = None
        columns: tuple[Any, ...] | None = None
        if self.plan.probabilities is not None:
            probabilities, columns = probabilities_matrix(by_name[self.plan.probabilities])
        if self.plan.label is not None:
            labels = as_labels(by_name[self.plan.label])
        elif probabilities is not None and probabilities.shape[1] > 1:
            top = np.argmax(probabilities, axis=1)
            labels = as_labels([columns[i] for i in top] if columns is not None else top)
        else:
            raise ValueError("the model gives neither labels nor class probabilities")
        as_array = labels if isinstance(labels, np.ndarray) else np.asarray(labels, dtype=object)
        return Prediction(probabilities, as_array)
