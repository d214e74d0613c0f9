"""Task outputs: what a prediction means per task, taken from a model's outputs or given explicitly.

- binary: ``scores`` is the positive class's probability (the model's second class: 1 of {0, 1},
  "yes" of {"no", "yes"}, as scikit-learn orders them); ``labels`` the predicted class.
- multiclass: ``scores`` is the top class's probability; ``labels`` the predicted class.
- regression: ``values`` is the predicted value (the first column of a multi-output regressor).

Labels are kept as the model gives them: integers stay integers (an int64 array), anything else becomes
strings (a list). Nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from inferwatch_probe.inputs import FeatureBatch

Labels = NDArray[np.int64] | list[str]
MAX_LABEL_CHARS = 256  # longer labels are cut: a value that long is not a class


@dataclass(slots=True)
class Prediction:
    """One model call's rows: outputs per the task, and the inputs that produced them."""

    rows: int
    scores: NDArray[np.float64] | None = None
    labels: Labels | None = None
    values: NDArray[np.float64] | None = None
    features: FeatureBatch | None = None


def as_labels(raw: Any) -> Labels:
    """Integer labels as int64, any other labels as strings (float labels that are whole numbers are
    integers: some converters emit classes as floats)."""
    arr = np.asarray(raw)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f" and bool(np.all(np.isfinite(arr))) and bool(np.all(arr == np.round(arr))):
        return arr.astype(np.int64)
    if arr.dtype.kind == "O" and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in arr):
        return arr.astype(np.int64)
    return [str(v)[:MAX_LABEL_CHARS] for v in arr.tolist()]


def as_floats(raw: Any) -> NDArray[np.float64]:
    """A 1-D float64 array; a 2-D [n, k] array gives its first column."""
    arr = np.asarray(raw, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[:, 0]
    return arr.reshape(-1)


def scores_from_probabilities(task: str, probabilities: Any, *, need_top: bool = True
                              ) -> tuple[NDArray[np.float64], NDArray[np.int64] | None]:
    """(scores, top-class column index, or None unless ``need_top``) from an [n, classes] matrix; a single
    column (or a 1-D array) is taken as the positive class's probability."""
    p = np.asarray(probabilities)
    if p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1):
        return p.reshape(-1).astype(np.float64), None
    if p.ndim != 2:
        raise ValueError(f"probabilities must be [rows, classes], got shape {p.shape}")
    if task == "binary":
        return p[:, 1].astype(np.float64), (np.argmax(p, axis=1).astype(np.int64) if need_top else None)
    top = np.argmax(p, axis=1)
    return p[np.arange(p.shape[0]), top].astype(np.float64), top.astype(np.int64) if need_top else None


def scores_from_zipmap(task: str, rows: Sequence[Mapping[Any, float]]) -> tuple[NDArray[np.float64], Labels | None]:
    """(scores, top-class labels) from ZipMap output: one {class: probability} dict per row, in the
    model's class order."""
    n = len(rows)
    if n == 0:
        return np.empty(0, dtype=np.float64), None
    keys = list(rows[0].keys())
    if task == "binary":
        positive = keys[1] if len(keys) > 1 else keys[0]
        return np.fromiter((r[positive] for r in rows), dtype=np.float64, count=n), None
    tops = [max(r.items(), key=lambda kv: kv[1]) for r in rows]
    return np.fromiter((t[1] for t in tops), dtype=np.float64, count=n), as_labels([t[0] for t in tops])


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """Which of a session's outputs holds what, decided once from ``session.get_outputs()``."""

    label: str | None = None
    probabilities: str | None = None
    value: str | None = None

    @classmethod
    def from_outputs(cls, task: str, outputs: Sequence[Any], *, label_output: str | None = None,
                     score_output: str | None = None, value_output: str | None = None) -> OutputPlan:
        """``outputs`` are onnxruntime NodeArgs (``.name``, ``.type``, ``.shape``)."""
        if task == "regression":
            floats = [o.name for o in outputs if o.type in ("tensor(float)", "tensor(double)")]
            return cls(value=value_output or (floats[0] if floats else None))
        label = label_output
        probabilities = score_output
        for o in outputs:
            is_label = o.type in ("tensor(int64)", "tensor(int32)", "tensor(string)") and len(o.shape or ()) <= 1
            if label is None and is_label:
                label = o.name
            is_scores = o.type.startswith("seq(map(") or (o.type in ("tensor(float)", "tensor(double)"))
            if probabilities is None and is_scores and o.name != label:
                probabilities = o.name
        return cls(label=label, probabilities=probabilities)

    def predictions(self, task: str, names: Sequence[str], outputs: Sequence[Any]) -> Prediction:
        """The prediction held in ``outputs``, which ``session.run`` returned for ``names``."""
        by_name = dict(zip(names, outputs, strict=False))  # a wrapped run may return fewer: record what came
        if task == "regression":
            raw = by_name.get(self.value) if self.value is not None else None
            values = as_floats(raw) if raw is not None else None
            return Prediction(rows=0 if values is None else values.size, values=values)
        labels: Labels | None = None
        if self.label is not None and self.label in by_name:
            labels = as_labels(by_name[self.label])
        scores = None
        raw = by_name.get(self.probabilities) if self.probabilities is not None else None
        if isinstance(raw, list):
            scores, top_labels = scores_from_zipmap(task, raw)
            labels = top_labels if labels is None else labels
        elif raw is not None:
            scores, top = scores_from_probabilities(task, raw, need_top=labels is None)
            labels = top if labels is None else labels
        rows = scores.size if scores is not None else len(labels) if labels is not None else 0
        return Prediction(rows=rows, scores=scores, labels=labels)
