"""The probe never raises into the handler because of its own failures: a broken sink, a broken bins
file, inputs or outputs it cannot read. It warns once per kind on stderr, counts, and keeps serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inferwatch_probe import Probe

from tests.probe.conftest import FakeLambdaContext, ModelCase, ProbeFactory
from tests.probe.linecheck import check_line, exact_value


class FlakySink:
    """Fails its first ``failures`` writes, as a full disk or a closed pipe would."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        self.lines.append(line)


def test_a_broken_sink_costs_lines_never_the_answer(make_probe: ProbeFactory,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sink = FlakySink(failures=3)
    probe, _ = make_probe(mode="invocation", sink=sink)
    handler = probe.lambda_handler(lambda event, context: {"statusCode": 200, "body": "fine"})
    answers = [handler({}, FakeLambdaContext()) for _ in range(5)]
    assert answers == [{"statusCode": 200, "body": "fine"}] * 5
    err = capsys.readouterr().err
    assert err.count("inferwatch_probe: writing an invocation line failed (OSError") == 1  # once, then counted
    assert len(sink.lines) == 2
    assert json.loads(sink.lines[0])["ProbeErrors"] == 3 and "ProbeErrors" not in json.loads(sink.lines[1])
    assert probe.health.dropped_lines == 3


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not JSON"),
    ('{"schema": "inferwatch.bins/9", "signals": {}}', "schema"),
    ('{"schema": "inferwatch.bins/1", "signals": {"score": {"edges": [0.5, 0.5]}}}', "strictly increasing"),
    ('{"schema": "inferwatch.bins/1", "signals": {"class": {"categories": [1, "1"]}}}', "all strings or all integers"),
    ('{"schema": "inferwatch.bins/1", "signals": {"weight": {"edges": [1]}}}', "feature:<name>"),
    (None, "cannot be read"),
])
def test_a_broken_bins_file_is_reported_and_counting_goes_on_without_it(
        content: str | None, problem: str, tmp_path: Path, make_probe: ProbeFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bins.json"
    if content is not None:
        path.write_text(content)
    probe, lines = make_probe(mode="window", bins=str(path))
    assert problem in capsys.readouterr().err
    with probe.invocation() as inv:
        inv.record(scores=[0.2, 0.7])
    probe.flush()
    doc = check_line(lines[0])
    assert "bins_sha256" not in doc and doc["signals"]["score"]["type"] == "exact"
    assert doc["probe"]["errors"] == 1


def test_outputs_and_inputs_it_cannot_read_are_counted(cases: dict[str, ModelCase], make_probe: ProbeFactory,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    case = cases["binary"]
    probe, lines = make_probe(mode="invocation")
    session = probe.session(case.session(), feature_names=["only", "two"])  # the model has 30 columns
    with probe.invocation() as inv:
        outputs = session.run(None, case.feed([0, 1]))
        inv.record(scores=[[0.1, 0.2], [0.3]])  # ragged
    assert len(outputs) == 2
    doc = check_line(lines[0])
    assert doc["Rows"] == 2 and "InputSummary" not in doc and doc["ProbeErrors"] == 2
    err = capsys.readouterr().err
    assert "session.run (reading the inputs) failed (ValueError: 2 feature names for 30 input columns)" in err
    assert "record failed" in err


def test_an_unwritable_telemetry_dir_costs_lines_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").write_text("a file where the folder should be")
    probe = Probe("scorer", "v1", "binary", mode="invocation",
                  env={"INFERWATCH_TELEMETRY_DIR": str(tmp_path / "taken")})
    try:
        with probe.invocation() as inv:
            inv.record(scores=[0.5])
    finally:
        probe.close()
    assert "writing an invocation line failed" in capsys.readouterr().err
    assert probe.health.dropped_lines == 1


values = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=300),
                   st.binary(max_size=20), st.lists(st.floats(), max_size=3),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inputs=st.dictionaries(st.text(min_size=1, max_size=20), st.lists(values, min_size=1, max_size=4), max_size=4),
       scores=st.one_of(st.none(), st.lists(values, max_size=4)), classes=st.one_of(st.none(), st.lists(values,
                                                                                                        max_size=4)))
def test_whatever_is_recorded_the_handler_is_unaffected_and_lines_follow_the_spec(
        inputs: dict[str, list[Any]], scores: list[Any] | None, classes: list[Any] | None) -> None:
    for mode in ("invocation", "window"):
        lines: list[str] = []
        probe = Probe("scorer", "v1", "multiclass", mode=mode, sink=lines.append, env={})
        try:
            with probe.invocation() as inv:
                inv.record(inputs=inputs, scores=scores, classes=classes)
                answer = "served"
            probe.flush()
        finally:
            probe.close()
        assert answer == "served"
        assert len(lines) == 1
        check_line(lines[0])


def test_float_inputs_keep_their_exact_value(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")
    tricky = np.array([[0.1, 1 / 3, 2.5e-310, 1e308, -0.0, 123456789.123456789]], dtype=np.float64)
    as32 = np.array([[0.1, 1 / 3, 1e-45, 3.4e38, -0.0, np.inf]], dtype=np.float32)
    with probe.invocation() as inv:
        inv.record(inputs=tricky, scores=[0.999999999999])
    with probe.invocation() as inv:
        inv.record(inputs=as32)
    first, second = (json.loads(line) for line in lines)
    assert [first["InputSummary"][f"f_{j}"][0] for j in range(6)] == tricky[0].tolist()
    assert first["PredictionScore"] == [0.999999999999]
    assert second["InputSummary"]["f_5"] == ["Infinity"]
    back = np.array([exact_value(second["InputSummary"][f"f_{j}"][0], "x") for j in range(6)], dtype=np.float64)
    assert back.tolist() == as32[0].astype(np.float64).tolist()  # the doubles the float32 values equal
    assert np.array_equal(back.astype(np.float32).view(np.uint32), as32[0].view(np.uint32))  # bit for bit


def test_boolean_and_integer_inputs_are_numbers(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")
    with probe.invocation() as inv:
        inv.record(inputs={"flag": np.array([True, False]), "count": np.array([2**40, -3])})
    with probe.invocation() as inv:
        inv.record(inputs=np.array([[True, False]]))
    mixed, flags = (check_line(line) for line in lines)
    assert mixed["InputSummary"] == {"flag": [1, 0], "count": [2**40, -3]}
    assert flags["InputSummary"] == {"f_0": [1], "f_1": [0]}
