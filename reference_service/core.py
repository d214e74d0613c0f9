"""The pure core shared by the Lambda handler, the Cloud Run server and the tests: validate a request
against the model card, predict under a deadline, degrade to a fallback, shape the answer.

Accepted request bodies (JSON object, exactly one of the two members):

- ``{"instances": [[30 numbers], ...]}``: rows in the card's feature order (1..max_rows rows);
- ``{"inputs": {"mean radius": 14.1, ...}}`` one row by feature name, or ``{"inputs": [{...}, ...]}``.

Every number must be finite and inside the card's valid range (a model of your own has none); a string
feature (a categorical input of your model) takes a string. A bad request raises InvalidInputError
listing every bad field (at most ``MAX_LISTED_PROBLEMS``; the rest are counted in a final entry), so one
400 tells the caller everything to fix.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from reference_service.deadline import run_until
from reference_service.errors import FieldProblem, InferenceTimeoutError, InvalidInputError, ModelLoadError
from reference_service.model import ModelCard
from reference_service.prediction import Model, Prediction

MAX_LISTED_PROBLEMS = 100
_MAX_FIELD_CHARS = 80
_NUMBER_TYPES = (int, float)

Outcome = Literal["ok", "timeout", "degraded"]


def _name(key: object) -> str:
    """A key as a field name: quoted when it is empty, blank or unprintable, and shortened."""
    text = str(key)
    if not text.strip() or not text.isprintable():
        text = json.dumps(text)
    return text if len(text) <= _MAX_FIELD_CHARS else text[:_MAX_FIELD_CHARS] + "..."


def _describe(value: object) -> str:
    text = json.dumps(value) if isinstance(value, (str, bool)) or value is None else type(value).__name__
    return text if len(text) <= 40 else text[:40] + "..."


def _load_json(body: bytes | str) -> object:
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError([FieldProblem("body", f"not UTF-8 text (byte {exc.start})")]) from exc
    if not body.strip():
        raise InvalidInputError([FieldProblem("body", "empty: send a JSON object with 'instances' or 'inputs'")])
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise InvalidInputError([FieldProblem("body", "not valid JSON: nested too deeply")]) from exc
    except ValueError as exc:  # JSONDecodeError, and int strings over the digit limit
        raise InvalidInputError([FieldProblem("body", f"not valid JSON: {str(exc)[:120]}")]) from exc


class _Problems:
    def __init__(self) -> None:
        self.items: list[FieldProblem] = []
        self.count = 0

    def add(self, field: str, problem: str) -> None:
        self.count += 1
        if len(self.items) < MAX_LISTED_PROBLEMS:
            self.items.append(FieldProblem(field, problem))

    def raise_if_any(self) -> None:
        if self.count:
            items = list(self.items)
            if self.count > len(items):
                items.append(FieldProblem("body", f"{self.count - len(items)} more problems not listed"))
            raise InvalidInputError(items)


MAX_STRING_CHARS = 256  # a longer value is not a category


def _check_value(value: object, field: str, j: int, card: ModelCard, problems: _Problems) -> Any:
    feature = card.feature_names[j]
    if card.kinds and card.kinds[j] == "string":
        if not isinstance(value, str):
            problems.add(field, f"'{feature}' must be a string, got {_describe(value)}")
        elif len(value) > MAX_STRING_CHARS:
            problems.add(field, f"'{feature}' is longer than {MAX_STRING_CHARS} characters")
        else:
            return value
        return ""
    if type(value) is bool or not isinstance(value, _NUMBER_TYPES):
        problems.add(field, f"'{feature}' must be a number, got {_describe(value)}")
        return 0.0
    try:
        number = float(value)
    except OverflowError:
        problems.add(field, f"'{feature}' is too large to be a number")
        return 0.0
    if not np.isfinite(number):
        problems.add(field, f"'{feature}' must be a finite number, got {number}")
    elif not card.valid_min[j] <= number <= card.valid_max[j]:
        problems.add(field, f"'{feature}' = {number:.6g} is outside the valid range "
                            f"[{card.valid_min[j]:.6g}, {card.valid_max[j]:.6g}]")
    else:
        return number
    return 0.0  # never stored: the request is refused (and 0 keeps the float32 cast quiet)


@functools.lru_cache(maxsize=8)
def _bounds(card: ModelCard) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return np.asarray(card.valid_min, dtype=np.float64), np.asarray(card.valid_max, dtype=np.float64)


def _fast_rows(rows: list[Any], card: ModelCard, lo: NDArray[np.float64],
               hi: NDArray[np.float64]) -> NDArray[Any] | None:
    """The common, valid case without a Python loop per error; None sends the request to the slow path."""
    if not card.all_numbers:
        return None
    n = card.n_features
    for row in rows:
        if type(row) is not list or len(row) != n:
            return None
    for row in rows:
        for v in row:
            if type(v) is not float and type(v) is not int:
                return None
    try:
        arr = np.array(rows, dtype=np.float64)
    except (OverflowError, ValueError):
        return None
    if not (np.isfinite(arr).all() and (arr >= lo).all() and (arr <= hi).all()):
        return None
    return arr.astype(card.dtype)


def _rows_array(n: int, card: ModelCard) -> NDArray[Any]:
    """Room for ``n`` rows: numbers, or objects when some features are strings."""
    return np.zeros((n, card.n_features), dtype=np.float64 if card.all_numbers else object)


def _typed(out: NDArray[Any], card: ModelCard) -> NDArray[Any]:
    return out.astype(card.dtype) if card.all_numbers else out


def _slow_rows(rows: list[Any], card: ModelCard, problems: _Problems) -> NDArray[Any]:
    out = _rows_array(len(rows), card)
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            problems.add(f"instances[{i}]", f"must be a list of {card.n_features} numbers, got {_describe(row)}")
            continue
        if len(row) != card.n_features:
            problems.add(f"instances[{i}]", f"must have {card.n_features} values (one per feature), got {len(row)}")
            continue
        for j, value in enumerate(row):
            out[i, j] = _check_value(value, f"instances[{i}][{j}]", j, card, problems)
    return _typed(out, card)


def _named_rows(inputs: list[Any], single: bool, card: ModelCard, problems: _Problems) -> NDArray[Any]:
    out = _rows_array(len(inputs), card)
    index = {name: j for j, name in enumerate(card.feature_names)}
    for i, row in enumerate(inputs):
        where = "inputs" if single else f"inputs[{i}]"
        if not isinstance(row, dict):
            problems.add(where, f"must be an object of feature name -> value, got {_describe(row)}")
            continue
        for key in row:
            if key not in index:
                problems.add(f"{where}.{_name(key)}", "unknown feature")
        for name, j in index.items():
            if name not in row:
                problems.add(f"{where}.{name}", "missing")
            else:
                out[i, j] = _check_value(row[name], f"{where}.{name}", j, card, problems)
    return _typed(out, card)


def _check_rows(value: object, field: str, max_rows: int, problems: _Problems, expected: str) -> list[Any] | None:
    if not isinstance(value, list):
        problems.add(field, f"must be {expected}, got {_describe(value)}")
        return None
    if not value:
        problems.add(field, "must hold at least one row")
        return None
    if len(value) > max_rows:
        problems.add(field, f"at most {max_rows} rows per request, got {len(value)}")
        return None
    return value


def parse_request(body: bytes | str | Mapping[str, Any], card: ModelCard, max_rows: int) -> NDArray[Any]:
    """Validated rows ``(n, card.n_features)`` from a request body (raw or already decoded): of the card's
    dtype, or objects when some features are strings."""
    doc = body if isinstance(body, (dict, Mapping)) else _load_json(body)
    if not isinstance(doc, (dict, Mapping)):
        raise InvalidInputError([FieldProblem("body", f"must be a JSON object, got {_describe(doc)}")])
    problems = _Problems()
    for key in doc:
        if key not in ("instances", "inputs"):
            problems.add(_name(key), "unknown field (expected 'instances' or 'inputs')")
    if ("instances" in doc) == ("inputs" in doc):
        which = "both given: send only one" if "instances" in doc else "missing: send 'instances' or 'inputs'"
        problems.add("instances", which)
        problems.raise_if_any()
    if "instances" in doc:
        rows = _check_rows(doc["instances"], "instances", max_rows, problems, "a list of rows")
        if rows is None:
            problems.raise_if_any()
        assert rows is not None
        if not problems.count:
            fast = _fast_rows(rows, card, *_bounds(card))
            if fast is not None:
                return fast
        out = _slow_rows(rows, card, problems)
    else:
        inputs = doc["inputs"]
        batch = [inputs] if isinstance(inputs, dict) else _check_rows(
            inputs, "inputs", max_rows, problems, "an object or a list of objects")
        if batch is None:
            problems.raise_if_any()
        assert batch is not None
        out = _named_rows(batch, isinstance(inputs, dict), card, problems)
    problems.raise_if_any()
    return out


@dataclass(frozen=True, slots=True)
class Fallback:
    """The answer when the model cannot give one: the class priors of the training data (a reference
    model's card has them; a model of your own has no fallback, and is answered 503/504 instead)."""

    version: str
    probabilities: tuple[float, ...]

    @classmethod
    def from_card(cls, card: ModelCard) -> Fallback | None:
        return cls(card.version, card.class_priors) if card.class_priors else None

    def predict(self, n_rows: int) -> Prediction:
        proba = np.tile(np.asarray(self.probabilities, dtype=np.float32), (n_rows, 1))
        labels = np.full(n_rows, int(np.argmax(self.probabilities)), dtype=np.int64)
        return Prediction(proba, labels)


@dataclass(frozen=True, slots=True)
class PredictionResult:
    prediction: Prediction | None  # None: no fallback for the model that could not answer
    model_version: str
    outcome: Outcome  # ok, timeout (deadline overrun) or degraded (model unavailable)
    error_type: str | None = None

    @property
    def degraded(self) -> bool:
        return self.outcome != "ok"


def predict_with_deadline(model: Model, x: NDArray[Any], budget_s: float, fallback: Fallback | None,
                          *, executor: Executor | None = None) -> PredictionResult:
    """``model.predict(x)`` if it finishes within ``budget_s``, else the fallback (None without one) marked
    timeout; a model that cannot load gives the fallback marked degraded. Any other failure propagates
    (it is real). How the deadline is enforced (inline with a watchdog, or on a worker thread) is
    ``deadline.run_until``'s."""

    def fallen_back(outcome: Outcome, error_type: str) -> PredictionResult:
        if fallback is None:
            return PredictionResult(None, model.version, outcome, error_type)
        return PredictionResult(fallback.predict(len(x)), fallback.version, outcome, error_type)

    if budget_s <= 0:
        return fallen_back("timeout", "InferenceTimeoutError")
    try:
        prediction = run_until(model, x, time.monotonic() + budget_s, executor)
    except InferenceTimeoutError:
        return fallen_back("timeout", "InferenceTimeoutError")
    except ModelLoadError:
        return fallen_back("degraded", "ModelLoadError")
    return PredictionResult(prediction, model.version, "ok")


def _own_model_rows(prediction: Prediction) -> list[dict[str, Any]]:
    """Per row: a regressor's ``value``; a classifier's ``label`` (the model's own), the probability of
    the most probable class as ``score``, and every class's ``probabilities`` when the model gives them."""
    if prediction.values is not None:
        return [{"value": v} for v in prediction.values.astype(np.float64).tolist()]
    assert prediction.labels is not None
    labels = prediction.labels.tolist()
    if prediction.probabilities is None:
        return [{"label": label} for label in labels]
    proba = prediction.probabilities.astype(np.float64).round(6).tolist()
    return [{"label": label, "score": max(p), "probabilities": p} for label, p in zip(labels, proba, strict=True)]


def answer_body(result: PredictionResult, card: ModelCard, request_id: str) -> dict[str, Any]:
    prediction = result.prediction
    assert prediction is not None  # a result without a prediction is answered 503/504 by the caller
    if card.classes and prediction.probabilities is not None and prediction.labels is not None:
        proba = prediction.probabilities.astype(np.float64).round(6).tolist()
        rows = [{"class": c, "label": card.classes[c] if 0 <= c < len(card.classes) else str(c),
                 "score": p[c], "probabilities": p} for c, p in zip(prediction.labels.tolist(), proba, strict=True)]
    else:
        rows = _own_model_rows(prediction)
    return {"predictions": rows, "model_version": result.model_version, "degraded": result.degraded,
            "request_id": request_id}


def error_body(message: str, fields: tuple[FieldProblem, ...] = (), request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": message, "fields": [f.as_dict() for f in fields]}
    if request_id is not None:
        body["request_id"] = request_id
    return body
