"""Every task and output shape, through a Lambda handler, in both modes: the lines follow the spec and
carry exactly what the model answered (binary: the positive class's probability; multiclass: the top
class's; regression: the value), with the inputs unrounded."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pytest

from tests.probe.conftest import BATCHES, CASES, FakeLambdaContext, ModelCase, ProbeFactory, expected
from tests.probe.linecheck import check_invocation_line, check_window_line, exact_value


def _handler(probe: Any, session: Any, case: ModelCase) -> Any:
    @probe.lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        outputs = session.run(None, case.feed(event["rows"]))
        return {"statusCode": 200, "body": json.dumps({"rows": len(outputs[0])})}

    return handler


def _probe_session(make_probe: ProbeFactory, case: ModelCase, mode: str) -> tuple[Any, list[str], Any]:
    probe, lines = make_probe(task=case.task, mode=mode)
    names = case.feature_names if not isinstance(case.x, dict) else None
    return probe, lines, probe.session(case.session(), feature_names=names)


def _input_rows(case: ModelCase, rows: list[int]) -> dict[str, list[Any]]:
    if isinstance(case.x, dict):
        return {name: [col[r].item() if isinstance(col[r], np.generic) else col[r] for r in rows]
                for name, col in case.x.items()}
    return {name: [float(case.x[r, j]) for r in rows] for j, name in enumerate(case.feature_names)}


@pytest.mark.parametrize("name", CASES)
def test_invocation_lines_carry_the_exact_predictions_and_inputs(name: str, cases: dict[str, ModelCase],
                                                                 make_probe: ProbeFactory) -> None:
    case = cases[name]
    probe, lines, session = _probe_session(make_probe, case, "invocation")
    handler = _handler(probe, session, case)
    for rows in BATCHES:
        assert handler({"rows": rows}, FakeLambdaContext())["statusCode"] == 200
    assert len(lines) == len(BATCHES)
    for rows, line in zip(BATCHES, lines, strict=True):
        doc = check_invocation_line(line)
        want = expected(case, rows)
        assert doc["Task"] == case.task and doc["Status"] == "ok" and doc["Rows"] == len(rows)
        assert (doc["Function"], doc["Qualifier"]) == ("aws:eu-west-1:scorer", "live")
        if case.task == "regression":
            assert [exact_value(v, "v") for v in doc["PredictionValue"]] == want["values"]
            assert "PredictionScore" not in doc and "PredictedClass" not in doc
        else:
            assert [exact_value(v, "s") for v in doc["PredictionScore"]] == want["scores"]
            label_key = "PredictedLabel" if isinstance(want["labels"][0], str) else "PredictedClass"
            assert doc[label_key] == want["labels"]
        summary = {**doc["InputSummary"], **doc.get("InputCategories", {})}
        assert summary == _input_rows(case, rows)  # every value exact: float32 -> the double it equals
    assert json.loads(lines[0])["ColdStart"] == 1 and json.loads(lines[1])["ColdStart"] == 0


@pytest.mark.parametrize("name", CASES)
def test_window_line_counts_every_row_of_every_signal(name: str, cases: dict[str, ModelCase],
                                                      make_probe: ProbeFactory) -> None:
    case = cases[name]
    probe, lines, session = _probe_session(make_probe, case, "window")
    handler = _handler(probe, session, case)
    for rows in BATCHES:
        handler({"rows": rows}, FakeLambdaContext())
    assert lines == []  # nothing before the interval has passed
    probe.flush()
    (line,) = lines
    doc = check_window_line(line)
    all_rows = [r for rows in BATCHES for r in rows]
    per_batch = [expected(case, rows) for rows in BATCHES]  # batch size changes the last bits of a gemm
    want = {k: [v for w in per_batch for v in w[k]] for k in per_batch[0]}
    assert doc["invocations"]["ok"] == len(BATCHES) and doc["rows"] == len(all_rows)
    assert doc["qualifiers"] == {"live": len(BATCHES)} and doc["cold_starts"] == 1
    signals = doc["signals"]
    if case.task == "regression":
        assert _exact_counts(signals["value"]) == Counter(want["values"])
        assert "score" not in signals and "class" not in signals
    else:
        assert _exact_counts(signals["score"]) == Counter(want["scores"])
        assert _exact_counts(signals["class"]) == Counter(want["labels"])
        assert signals["class"]["kind"] == "categorical"
    for feature, values in _input_rows(case, all_rows).items():
        signal = signals[f"feature:{feature}"]
        assert signal["kind"] == ("categorical" if isinstance(values[0], str) else "numeric")
        assert _exact_counts(signal) == Counter(values)


def _exact_counts(signal: dict[str, Any]) -> Counter[Any]:
    assert signal["type"] == "exact", signal
    return Counter(dict(zip(signal["values"], signal["counts"], strict=True)))


def test_zipmap_and_plain_outputs_give_the_same_lines(cases: dict[str, ModelCase], make_probe: ProbeFactory) -> None:
    docs = []
    for name in ("multiclass_str", "multiclass_str_zipmap"):
        case = cases[name]
        probe, lines, session = _probe_session(make_probe, case, "invocation")
        _handler(probe, session, case)({"rows": [3, 60, 149]}, FakeLambdaContext())
        docs.append(json.loads(lines[0]))
    assert docs[0]["PredictedLabel"] == docs[1]["PredictedLabel"] == ["setosa", "versicolor", "virginica"]
    np.testing.assert_allclose(docs[0]["PredictionScore"], docs[1]["PredictionScore"], rtol=1e-6)


def test_several_named_inputs_name_features_by_input_and_strings_are_categorical(
        cases: dict[str, ModelCase], make_probe: ProbeFactory) -> None:
    case = cases["columns"]
    probe, lines, session = _probe_session(make_probe, case, "invocation")
    _handler(probe, session, case)({"rows": [0, 1, 2]}, FakeLambdaContext())
    doc = json.loads(lines[0])
    assert sorted(doc["InputSummary"]) == ["acidity", "alcohol"]
    assert doc["InputCategories"] == {"colour": [str(v) for v in case.x["colour"][:3]]}


def test_explicit_records_without_a_session(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(task="regression", mode="invocation", feature_names=["size_m2", "city"])
    with probe.invocation(request_id="abc") as inv:
        inv.record(inputs={"size_m2": [52.25, None], "city": ["Lyon", "Zürich"]}, values=[310000.5, 1.25e6])
    doc = check_invocation_line(lines[0])
    assert doc["RequestId"] == "abc" and doc["PredictionValue"] == [310000.5, 1250000.0]
    assert doc["InputSummary"] == {"size_m2": [52.25, "NaN"]}  # None is missing: NaN in an invocation line
    assert doc["InputCategories"] == {"city": ["Lyon", "Zürich"]}
