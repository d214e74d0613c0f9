"""Any ONNX model file, served as the reference models are: its card read from the file itself.

What a request must give follows from the model's inputs: with one 2-D input ``[n, k]``, ``k`` numbers per
row, named by ``feature_names`` (else ``<input>_<j>``, as the probe names them); with one input per column
(a scikit-learn ColumnTransformer export: ``[n, 1]`` each), one value per input, named by the input, a
string for a ``tensor(string)`` input (a categorical feature) and a number otherwise. A model of your own
has no valid ranges and no class priors: it is answered, or refused with 503/504, never with a fallback.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reference_service.errors import ModelLoadError
from reference_service.model import ModelCard
from reference_service.model_io import TENSOR_DTYPES, model_feed, probabilities_matrix

TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True, slots=True)
class Tensor:
    name: str
    type: str  # "tensor(float)", "seq(map(int64,tensor(float)))", ...
    shape: tuple[Any, ...]  # dimensions: int, or a name / None when dynamic


@dataclass(frozen=True, slots=True)
class ModelFile:
    """What onnxruntime says about a model file: its inputs and outputs, and the file's sha256."""

    path: Path
    sha256: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]


def _tensors(args: Sequence[Any]) -> tuple[Tensor, ...]:
    return tuple(Tensor(a.name, a.type, tuple(a.shape or ())) for a in args)


def read_model_file(path: Path, version: str = "model") -> tuple[ModelFile, Any]:
    """(the file's description, an onnxruntime session of it); ModelLoadError naming the file and why."""
    import onnxruntime as ort  # ~0.3 s: only where a model is loaded

    try:
        raw = path.read_bytes()
    except IsADirectoryError as exc:
        raise ModelLoadError(version, str(path), "is a folder, not an ONNX file") from exc
    except OSError as exc:
        raise ModelLoadError(version, str(path), exc.strerror or type(exc).__name__) from exc
    try:
        session = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidProtobuf types
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(version, str(path), f"not an ONNX model onnxruntime can load ({first})") from exc
    described = ModelFile(path, hashlib.sha256(raw).hexdigest(), _tensors(session.get_inputs()),
                          _tensors(session.get_outputs()))
    return described, session


def _width(t: Tensor) -> int | None:
    """Columns of an input: 1 for ``[n]``, the fixed second dimension of ``[n, k]``, None if dynamic."""
    if len(t.shape) <= 1:
        return 1
    if len(t.shape) == 2:
        return t.shape[1] if isinstance(t.shape[1], int) else None
    return -1  # more dimensions: not rows of features


def _problem(version: str, path: Path, reason: str) -> ModelLoadError:
    return ModelLoadError(version, str(path), reason)


def _matrix_card(model: ModelFile, version: str, task: str, feature_names: Sequence[str] | None) -> ModelCard:
    inp = model.inputs[0]
    width = _width(inp)
    if width == -1:
        raise _problem(version, model.path, f"input {inp.name!r} has shape {list(inp.shape)}: expected rows of "
                                            "features, [n, k] or [n]")
    if inp.type not in TENSOR_DTYPES or TENSOR_DTYPES[inp.type] == "str" and width != 1:
        raise _problem(version, model.path, f"input {inp.name!r} of type {inp.type} cannot be fed from rows")
    names = tuple(feature_names) if feature_names else None
    if width is None:
        if names is None:
            raise _problem(version, model.path, f"input {inp.name!r} has no fixed number of columns: give "
                                                "feature_names")
        width = len(names)
    if names is not None and len(names) != width:
        raise _problem(version, model.path, f"input {inp.name!r} has {width} columns, but {len(names)} "
                                            "feature names are given")
    if names is None:
        names = (inp.name,) if width == 1 else tuple(f"{inp.name}_{j}" for j in range(width))
    dtype = TENSOR_DTYPES[inp.type]
    kinds = ("string",) if dtype == "str" else ()
    if kinds:  # one string column: fed as a column input of its own
        return _card(model, version, task, names, kinds=kinds, columns=((inp.name, dtype, len(inp.shape) or 1),))
    return _card(model, version, task, names, dtype=dtype)


def _columns_card(model: ModelFile, version: str, task: str) -> ModelCard:
    columns = []
    for inp in model.inputs:
        if _width(inp) != 1 or inp.type not in TENSOR_DTYPES:
            raise _problem(version, model.path, f"input {inp.name!r} ({inp.type}, shape {list(inp.shape)}): with "
                                                "several inputs, each must be one column, [n, 1] or [n]")
        columns.append((inp.name, TENSOR_DTYPES[inp.type], max(len(inp.shape), 1)))
    kinds = tuple("string" if dtype == "str" else "number" for _, dtype, _ in columns)
    return _card(model, version, task, tuple(name for name, _, _ in columns), kinds=kinds, columns=tuple(columns))


def _card(model: ModelFile, version: str, task: str, names: tuple[str, ...], *, dtype: str = "float64",
          kinds: tuple[str, ...] = (), columns: tuple[tuple[str, str, int], ...] = ()) -> ModelCard:
    k = len(names)
    return ModelCard(
        version=version, onnx_file=model.path.name, sha256=model.sha256, input_name=model.inputs[0].name,
        feature_names=names, valid_min=(-math.inf,) * k, valid_max=(math.inf,) * k, classes=(), class_priors=(),
        dtype=dtype, task=task, kinds=kinds, column_inputs=tuple(c[0] for c in columns),
        column_dtypes=tuple(c[1] for c in columns), column_ranks=tuple(c[2] for c in columns),
        path=str(model.path.resolve()))


def card_for(model: ModelFile, *, version: str, task: str, input_name: str | None = None,
             feature_names: Sequence[str] | None = None) -> ModelCard:
    """The card of a model of your own (see the module docstring); ModelLoadError naming what does not fit."""
    if task not in TASKS:
        raise _problem(version, model.path, f"task {task!r} is not one of {', '.join(TASKS)}")
    if not model.inputs:
        raise _problem(version, model.path, "the model has no inputs")
    names = [i.name for i in model.inputs]
    if input_name is not None and input_name not in names:
        raise _problem(version, model.path, f"input_name {input_name!r} is not an input of the model "
                                            f"(its inputs: {', '.join(names)})")
    if len(model.inputs) == 1:
        return _matrix_card(model, version, task, feature_names)
    if feature_names and list(feature_names) != names:
        raise _problem(version, model.path, f"a model with one input per column names its features by its "
                                            f"inputs ({', '.join(names)}): feature_names must be those or absent")
    return _columns_card(model, version, task)


def card_from_file(path: Path, *, version: str, task: str, input_name: str | None = None,
                   feature_names: Sequence[str] | None = None) -> ModelCard:
    model, _ = read_model_file(path, version)
    return card_for(model, version=version, task=task, input_name=input_name, feature_names=feature_names)


_LABEL_TYPES = ("tensor(int64)", "tensor(int32)", "tensor(string)")


def infer_task(model: ModelFile, session: Any) -> str:
    """binary, multiclass or regression from the outputs alone: class labels or per-class probabilities
    make a classifier; its probabilities' width (read from the output's shape, else from one row of zeros
    and empty strings run through it) tells binary from multiclass."""
    if not any((o.type in _LABEL_TYPES and len(o.shape) <= 1) or o.type.startswith("seq(map(") for o in model.outputs):
        return "regression"
    probabilities = next((o for o in model.outputs if o.type.startswith("seq(map(")
                          or (o.type in ("tensor(float)", "tensor(double)") and len(o.shape) == 2)), None)
    if probabilities is not None and len(probabilities.shape) == 2 and isinstance(probabilities.shape[1], int):
        return "binary" if probabilities.shape[1] == 2 else "multiclass"
    card = card_for(model, version="probe", task="multiclass")
    row = [("" if k == "string" else 0.0) for k in (card.kinds or ("number",) * card.n_features)]
    x = np.asarray([row], dtype=object if not card.all_numbers else np.float64)
    outputs = dict(zip([o.name for o in model.outputs], session.run(None, model_feed(card, x)), strict=True))
    width = probabilities_matrix(outputs[probabilities.name])[0].shape[1] if probabilities is not None else 0
    return "binary" if width == 2 else "multiclass"
