from __future__ import annotations

import json
import time

import numpy as np
import pytest
from numpy.typing import NDArray

from reference_service.core import (
    MAX_LISTED_PROBLEMS,
    Fallback,
    answer_body,
    parse_request,
    predict_with_deadline,
)
from reference_service.errors import InferenceError, InvalidInputError, ModelLoadError
from reference_service.model import PACKAGED_MODEL_DIR, ModelCard, OnnxModel

from .conftest import RaisingModel, SlowModel


def _row(heldout: NDArray[np.float32], i: int = 0) -> list[float]:
    return [float(v) for v in heldout[i]]


def _fields(exc: pytest.ExceptionInfo[InvalidInputError]) -> list[str]:
    return [f.field for f in exc.value.fields]


def test_instances_parse_to_float32_rows(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    x = parse_request(json.dumps({"instances": [_row(heldout, 0), _row(heldout, 1)]}), card, 256)
    assert x.dtype == np.float32 and x.shape == (2, 30)
    np.testing.assert_allclose(x, heldout[:2], rtol=1e-6)


def test_inputs_by_name_single_and_batch(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    one = dict(zip(card.feature_names, _row(heldout), strict=True))
    assert parse_request({"inputs": one}, card, 8).shape == (1, 30)
    assert parse_request(json.dumps({"inputs": [one, one]}).encode(), card, 8).shape == (2, 30)


def test_integers_are_numbers(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    row: list[float | int] = _row(heldout)
    row[3] = 600  # mean area as an int
    assert parse_request({"instances": [row]}, card, 8)[0, 3] == 600.0


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"\xff\xfe", "body", "UTF-8"),
        (b"", "body", "empty"),
        (b"{not json", "body", "not valid JSON"),
        (b"[1, 2]", "body", "JSON object"),
        (b"{}", "instances", "missing"),
        (b'{"instances": 3}', "instances", "list of rows"),
        (b'{"instances": []}', "instances", "at least one row"),
        (b'{"instances": [[1,2]]}', "instances[0]", "30 values"),
        (b'{"instances": ["abc"]}', "instances[0]", "list of 30"),
        (b'{"inputs": 7}', "inputs", "object"),
        (b'{"inputs": [3]}', "inputs[0]", "object"),
        (b'{"instances": [], "inputs": {}}', "instances", "both"),
        (b'{"inputs": {"mean radius": 3}}', "inputs.mean texture", "missing"),
        (b"[" * 100_000 + b"]" * 100_000, "body", "JSON"),
        (b'{"instances": [[' + b"9" * 5000 + b"]]}", "body", "JSON"),
    ],
)
def test_each_bad_request_names_its_field(card: ModelCard, body: bytes, field: str, words: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_request(body, card, 256)
    problem = {f.field: f.problem for f in info.value.fields}
    assert field in problem and words in problem[field]


@pytest.mark.parametrize(
    ("value", "words"),
    [("1.5", "must be a number"), (True, "must be a number"), (None, "must be a number"), ([1], "must be a number"),
     (float("nan"), "finite"), (float("inf"), "finite"), (-1.0, "outside the valid range"), (1e9, "outside"),
     (10 ** 400, "too large")],
)
def test_each_bad_value_names_row_column_and_feature(card: ModelCard, heldout: NDArray[np.float32],
                                                     value: object, words: str) -> None:
    rows = [_row(heldout, 0), _row(heldout, 1)]
    rows[1][4] = value  # type: ignore[call-overload]
    with pytest.raises(InvalidInputError) as info:
        parse_request({"instances": rows}, card, 256)
    assert _fields(info) == ["instances[1][4]"]
    assert words in info.value.fields[0].problem and "mean smoothness" in info.value.fields[0].problem


def test_json_nan_literal_is_refused(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    text = json.dumps({"instances": [_row(heldout)]}).replace(str(_row(heldout)[2]), "NaN", 1)
    with pytest.raises(InvalidInputError) as info:
        parse_request(text, card, 256)
    assert _fields(info) == ["instances[0][2]"]


def test_every_bad_field_is_named_at_once(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    rows = [_row(heldout, i) for i in range(3)]
    rows[0][0] = -5.0
    rows[2][29] = "x"  # type: ignore[call-overload]
    with pytest.raises(InvalidInputError) as info:
        parse_request({"instances": rows, "extra": 1, "more": 2}, card, 256)
    assert sorted(_fields(info)) == ["extra", "instances[0][0]", "instances[2][29]", "more"]


def test_unknown_and_missing_named_features(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    one = dict(zip(card.feature_names, _row(heldout), strict=True))
    del one["worst area"]
    one["wrost area"] = 1.0
    with pytest.raises(InvalidInputError) as info:
        parse_request({"inputs": [one]}, card, 8)
    assert sorted(_fields(info)) == ["inputs[0].worst area", "inputs[0].wrost area"]


def test_too_many_rows(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_request({"instances": [_row(heldout)] * 5}, card, 4)
    assert _fields(info) == ["instances"] and "at most 4" in info.value.fields[0].problem


def test_problem_list_is_capped_and_counts_the_rest(card: ModelCard) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_request({"instances": [["x"] * 30] * 10}, card, 256)
    assert len(info.value.fields) == MAX_LISTED_PROBLEMS + 1
    assert info.value.fields[-1].problem == f"{300 - MAX_LISTED_PROBLEMS} more problems not listed"


def test_ranges_admit_every_heldout_row(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    assert parse_request({"instances": heldout.tolist()}, card, 1000).shape == heldout.shape


def test_fallback_uses_class_priors(card: ModelCard) -> None:
    pred = Fallback.from_card(card).predict(3)
    assert pred.labels.tolist() == [int(np.argmax(card.class_priors))] * 3
    np.testing.assert_allclose(pred.probabilities[0], card.class_priors, rtol=1e-6)


def test_deadline_overrun_degrades_within_the_budget(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    t0 = time.perf_counter()
    result = predict_with_deadline(SlowModel(1.0), heldout[:2], 0.1, Fallback.from_card(card))
    elapsed = time.perf_counter() - t0
    assert result.outcome == "timeout" and result.degraded and elapsed < 0.1 + 0.05
    assert len(result.prediction.labels) == 2


def test_no_budget_left_degrades_at_once(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    model = SlowModel(0.0)
    result = predict_with_deadline(model, heldout[:1], 0.0, Fallback.from_card(card))
    assert result.outcome == "timeout" and model.calls == 0


def test_unloadable_model_degrades(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    model = RaisingModel(ModelLoadError("v1", "/nowhere/v1.onnx", "missing"), "v1")
    result = predict_with_deadline(model, heldout[:1], 1.0, Fallback.from_card(card))
    assert result.outcome == "degraded" and result.error_type == "ModelLoadError"


def test_real_failures_propagate(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    with pytest.raises(InferenceError):
        predict_with_deadline(RaisingModel(InferenceError("v1", "boom")), heldout[:1], 1.0, Fallback.from_card(card))


def test_answer_body_shape(card: ModelCard, heldout: NDArray[np.float32]) -> None:
    model = OnnxModel(card, PACKAGED_MODEL_DIR)
    result = predict_with_deadline(model, heldout[:2], 5.0, Fallback.from_card(card))
    body = answer_body(result, card, "rid")
    assert body["model_version"] == "v1" and body["degraded"] is False and body["request_id"] == "rid"
    first = body["predictions"][0]
    assert set(first) == {"class", "label", "score", "probabilities"}
    assert first["score"] == max(first["probabilities"]) and abs(sum(first["probabilities"]) - 1) < 1e-5
