"""The reference service's telemetry is the probe's: what it writes per outcome, where, and that the local
collector reads every line of it back (docs/telemetry.md)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from collectors.local_telemetry import parse_emf_line
from reference_service.errors import InferenceError
from reference_service.invocation import Service
from reference_service.settings import ServiceSettings
from reference_service.telemetry import METRICS, MemorySink

from .conftest import RaisingModel, SlowModel

BASE = ServiceSettings(concurrency=1, deployment="scorer-v1", service="scorer", timeout_s=5.0)


def _body(heldout: NDArray[np.float32], n: int = 1) -> bytes:
    return json.dumps({"instances": heldout[:n].tolist()}).encode()


def test_every_outcome_is_a_line_the_collector_reads(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    Service(BASE, sink).invoke(_body(heldout, 3))
    Service(BASE, sink).invoke(b'{"instances": 1}')
    Service(replace(BASE, timeout_s=0.3), sink, model=SlowModel(2.0)).invoke(_body(heldout))
    Service(BASE, sink, model=RaisingModel(InferenceError("v1", "boom"), "v1")).invoke(_body(heldout))
    Service(replace(BASE, shadow_version="v2", shadow_wait_ms=2000.0), sink).invoke(_body(heldout, 2))
    records = [parse_emf_line(json.dumps(line)) for line in sink.lines]
    assert [r.status for r in records] == ["ok", "client_error", "timeout", "error", "ok"]
    assert {(r.deployment, r.model_version, r.role) for r in records} == {("scorer-v1", "v1", "stable")}
    assert {line["Service"] for line in sink.lines} == {"scorer"}
    ok = records[0]
    assert ok.rows == 3 and len(ok.prediction_score) == 3 and len(ok.predicted_class) == 3
    assert set(ok.input_summary) == {f"feature {i}" for i in range(30)} or len(ok.input_summary) == 30
    assert records[3].error_type == "InferenceError" and records[2].error_type == "InferenceTimeoutError"
    shadowed = records[4]
    assert shadowed.shadow_version == "v2" and shadowed.shadow_status == "ok" and len(shadowed.shadow_score) == 2
    assert shadowed.shadow_agree is not None


def test_metrics_are_declared_for_cloudwatch(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(BASE, sink)
    svc.invoke(_body(heldout))
    svc.invoke(b"{}")
    ok, refused = (line["_aws"]["CloudWatchMetrics"][0] for line in sink.lines)
    assert ok["Namespace"] == "Inferwatch" and ok["Dimensions"] == [["Deployment"], ["Deployment", "ModelVersion"]]
    assert {m["Name"] for m in ok["Metrics"]} == set(METRICS) - {"ShadowAgree"}  # no shadow on this line
    assert {m["Name"] for m in refused["Metrics"]} == set(METRICS) - {"ShadowAgree", "PredictionScore"}


def test_the_environment_may_choose_the_metrics_and_window_lines(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(replace(BASE, probe_env={"INFERWATCH_EMF_METRICS": "none", "INFERWATCH_PROBE_MODE": "window"}),
                  sink)
    svc.invoke(_body(heldout, 4))
    svc.close()  # writes the window
    assert len(sink.lines) == 1 and sink.lines[0]["kind"] == "window" and sink.lines[0]["rows"] == 4


def test_cloud_run_lines_carry_severity_and_message(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(replace(BASE, probe_env={"K_SERVICE": "scorer", "K_REVISION": "scorer-00007"}), sink)
    svc.invoke(_body(heldout))
    assert sink.lines[0]["severity"] == "INFO" and "ok" in sink.lines[0]["message"]
    assert sink.lines[0]["Revision"] == "scorer-00007"


def test_lines_go_to_one_file_per_instance(tmp_path: Path, heldout: NDArray[np.float32]) -> None:
    settings = replace(BASE, telemetry_dir=tmp_path, instance_id="scorer-v1-123-abcdef")
    svc = Service(settings)
    for _ in range(3):
        svc.invoke(_body(heldout))
    svc.close()
    [path] = tmp_path.iterdir()
    assert path.name == "scorer-v1-123-abcdef.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["InstanceId"] for line in lines] == ["scorer-v1-123-abcdef"] * 3


@pytest.mark.parametrize("rows", [1, 256])
def test_lines_stay_under_the_cap_and_keep_inputs_exact(heldout: NDArray[np.float32], rows: int) -> None:
    x = np.resize(heldout, (rows, heldout.shape[1]))
    sink = MemorySink()
    Service(replace(BASE, max_rows=256), sink).invoke(json.dumps({"instances": x.tolist()}).encode())
    line = sink.lines[0]
    assert len(json.dumps(line)) < 64 * 1024 and line["Rows"] == rows
    assert len(line["PredictionScore"]) == min(rows, 100)
    first = next(iter(line["InputSummary"].values()))
    assert first[0] == float(x[0, 0])  # the float32 input as the double it equals: nothing rounded
    assert time.time() * 1000 - line["_aws"]["Timestamp"] < 60_000
