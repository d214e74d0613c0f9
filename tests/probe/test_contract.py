"""Contract: invocation lines are read by today's collector (``collectors/local_telemetry.parse_emf_line``
and the local collector over the probe's own files) with the same meaning as the pre-probe lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from inferwatch_probe import Probe

from collectors.local import LocalCollector
from collectors.local_telemetry import TelemetryLineError, parse_emf_line
from inferwatch.schema import Metric
from tests.probe.conftest import FakeLambdaContext, ModelCase, ProbeFactory


@pytest.mark.parametrize("name", ["binary", "multiclass_int_zipmap", "regression"])
def test_the_current_parser_reads_invocation_lines(name: str, cases: dict[str, ModelCase],
                                                   make_probe: ProbeFactory) -> None:
    case = cases[name]
    probe, lines = make_probe(task=case.task, mode="invocation", metrics="standard")
    session = probe.session(case.session(), feature_names=case.feature_names)

    @probe.lambda_handler
    def handler(event: dict[str, Any], context: Any) -> Any:
        if event.get("bad"):
            raise probe.ClientError("no rows")
        return session.run(None, case.feed(event["rows"]))[0].tolist()

    handler({"rows": [0, 1, 2]}, FakeLambdaContext(request_id="r-1"))
    handler({"bad": True}, FakeLambdaContext(request_id="r-2"))
    ok, bad = (parse_emf_line(line) for line in lines)
    assert (ok.deployment, ok.model_version, ok.role, ok.request_id, ok.status) == ("scorer", "v1", "stable", "r-1",
                                                                                    "ok")
    assert ok.rows == 3 and ok.cold_start and ok.init_ms > 0 and ok.memory_mb == 512 and ok.latency_ms > 0
    assert set(ok.input_summary) == set(case.feature_names)
    np.testing.assert_array_equal(ok.input_summary[case.feature_names[0]], case.x[[0, 1, 2], 0].astype(np.float64))
    if case.task == "regression":
        assert ok.prediction_score == () and ok.predicted_class == ()
    else:
        assert len(ok.prediction_score) == 3 and len(ok.predicted_class) == 3
    assert (bad.status, bad.error_type, bad.cold_start, bad.rows) == ("client_error", "ClientError", False, 0)


def test_string_labels_and_categories_do_not_break_the_current_parser(cases: dict[str, ModelCase],
                                                                     make_probe: ProbeFactory) -> None:
    """The pre-probe parser rejects non-numbers in PredictedClass and InputSummary: strings go elsewhere."""
    for name in ("multiclass_str", "columns"):
        case = cases[name]
        probe, lines = make_probe(task=case.task, mode="invocation")
        session = probe.session(case.session())
        with probe.invocation():
            session.run(None, case.feed([0, 1]))
        record = parse_emf_line(lines[0])
        assert record.status == "ok" and record.rows == 2
        if name == "multiclass_str":
            assert record.predicted_class == ()  # the labels are in PredictedLabel
        else:
            assert set(record.input_summary) == {"alcohol", "acidity"}  # colour is in InputCategories


def test_the_local_collector_reads_the_probes_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"INFERWATCH_TELEMETRY_DIR": str(home / "telemetry" / "scorer")}
    probe = Probe("scorer", "v1", "binary", mode="invocation", env=env)
    try:
        for i in range(5):
            with probe.invocation() as inv:
                inv.record(inputs={"x": [float(i)]}, scores=[0.1 * i], classes=[i % 2])
        with pytest.raises(ValueError), probe.invocation():
            raise ValueError("boom")
    finally:
        probe.close()
    batch = LocalCollector(home, [], step_s=60, grace_s=0).collect(datetime.now(UTC) + timedelta(minutes=2), None)
    assert batch.warnings == ()
    invocations = sum(p.value for p in batch.points if p.metric == Metric.INVOCATIONS)
    assert invocations == 6


def test_the_current_parser_does_not_mistake_a_window_line_for_an_invocation(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window")
    with probe.invocation():
        pass
    probe.flush()
    with pytest.raises(TelemetryLineError, match="_aws"):
        parse_emf_line(lines[0])
