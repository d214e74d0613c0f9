from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from reference_service.errors import InferenceError
from reference_service.invocation import Service
from reference_service.model import PACKAGED_MODEL_DIR, FaultSettings, ModelCard, OnnxModel
from reference_service.settings import ServiceSettings
from reference_service.telemetry import MemorySink

from .conftest import RaisingModel, SlowModel

BASE = ServiceSettings(concurrency=1, deployment="t", timeout_s=5.0)


def _body(heldout: NDArray[np.float32], n: int = 1, start: int = 0) -> bytes:
    return json.dumps({"instances": heldout[start:start + n].tolist()}).encode()


def test_first_invocation_is_the_cold_start(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(BASE, sink)
    for _ in range(3):
        assert svc.invoke(_body(heldout)).status_code == 200
    assert [r["ColdStart"] for r in sink.lines] == [1, 0, 0]
    # the init runs from the process start and includes the model load, timed by the probe
    assert sink.lines[0]["InitMs"] >= sink.lines[0]["Init"]["LoadMs"] > 0 and sink.lines[1]["InitMs"] == 0


def test_prewarmed_instance_has_no_cold_start(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(replace(BASE, prewarmed=True), sink)
    svc.invoke(_body(heldout))
    svc.invoke(_body(heldout))
    assert [(r["ColdStart"], r["InitMs"], r["Prewarmed"]) for r in sink.lines] == [(0, 0, 1), (0, 0, 1)]
    assert sink.lines[0]["Init"]["Type"] == "prewarmed"
    cold = MemorySink()
    Service(BASE, cold).invoke(_body(heldout))
    assert "Prewarmed" not in cold.lines[0]


def test_ok_record_carries_predictions_and_inputs(heldout: NDArray[np.float32], card: ModelCard) -> None:
    sink = MemorySink()
    svc = Service(BASE, sink)
    reply = svc.invoke(_body(heldout, 4), request_id="abc")
    rec = sink.lines[0]
    assert reply.body["request_id"] == rec["RequestId"] == "abc" and rec["Status"] == "ok" and rec["Rows"] == 4
    # binary: the score is the positive class's probability, as the probe reports it for any model
    assert rec["Task"] == "binary" and rec["ModelSha256"] == card.sha256
    assert rec["PredictionScore"] == pytest.approx([p["probabilities"][1] for p in reply.body["predictions"]],
                                                   abs=1e-6)  # the answer rounds to 6 digits, telemetry never
    assert rec["PredictedClass"] == [p["class"] for p in reply.body["predictions"]]
    assert set(rec["InputSummary"]) == set(card.feature_names)
    # inputs are written exactly (rounding them once reported drift on unshifted traffic)
    assert rec["InputSummary"][card.feature_names[0]] == [float(v) for v in heldout[:4, 0]]
    assert rec["MaxMemoryUsedMb"] > 10 and rec["MemoryMb"] == 512


def test_bad_input_is_400_and_client_error(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(BASE, sink)
    reply = svc.invoke(b'{"instances": [[1, 2]]}')
    assert reply.status_code == 400 and reply.body["fields"][0]["field"] == "instances[0]"
    assert sink.lines[0]["Status"] == "client_error" and sink.lines[0]["ErrorType"] == "InvalidInputError"
    assert svc.reject_oversize(10 << 20).status_code == 413
    assert (sink.lines[1]["Status"], sink.lines[1]["ErrorType"]) == ("client_error", "PayloadTooLargeError")


def test_missing_model_degrades_then_recovers(tmp_path: Path, heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(replace(BASE, model_dir=tmp_path, model_retry_s=0.0), sink)
    reply = svc.invoke(_body(heldout, 2))
    assert reply.status_code == 200 and reply.body["degraded"] is True and len(reply.body["predictions"]) == 2
    assert sink.lines[0]["Status"] == "degraded" and sink.lines[0]["ErrorType"] == "ModelLoadError"
    assert "PredictionScore" not in sink.lines[0] and sink.lines[0]["Rows"] == 2  # a fallback is not the model's
    assert svc.health()["degraded"] is True
    shutil.copy(PACKAGED_MODEL_DIR / "v1.onnx", tmp_path / "v1.onnx")
    reply = svc.invoke(_body(heldout, 2))
    assert reply.body["degraded"] is False and sink.lines[1]["Status"] == "ok"
    assert svc.health()["degraded"] is False


def test_overrun_answers_degraded_before_the_timeout(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    settings = replace(BASE, timeout_s=0.3, safety_margin_s=0.1)
    svc = Service(settings, sink, model=SlowModel(2.0))
    t0 = time.perf_counter()
    reply = svc.invoke(_body(heldout))
    elapsed = time.perf_counter() - t0
    assert reply.status_code == 200 and reply.body["degraded"] is True
    assert elapsed < settings.timeout_s and sink.lines[0]["Status"] == "timeout" and sink.lines[0]["Rows"] == 1


def test_real_failure_is_500_with_the_exception_kept(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(BASE, sink, model=RaisingModel(InferenceError("v1", "boom"), "v1"))
    reply = svc.invoke(_body(heldout))
    assert reply.status_code == 500 and isinstance(reply.failure, InferenceError)
    assert sink.lines[0]["Status"] == "error" and sink.lines[0]["ErrorType"] == "InferenceError"


def test_injected_faults_are_real_failures(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(replace(BASE, faults=FaultSettings(error_rate=1.0)), sink)
    assert svc.invoke(_body(heldout)).status_code == 500 and sink.lines[0]["ErrorType"] == "InjectedFaultError"


@pytest.mark.parametrize("shadow", [SlowModel(1.5, "v2"), RaisingModel(RuntimeError("shadow broke"))])
def test_shadow_never_changes_the_answer_or_its_latency_beyond_a_bound(shadow: object,
                                                                       heldout: NDArray[np.float32]) -> None:
    settings = replace(BASE, shadow_wait_ms=20.0)
    plain_sink = MemorySink()
    plain = Service(settings, plain_sink)
    sink = MemorySink()
    shadowed = Service(settings, sink, shadow_model=shadow)  # type: ignore[arg-type]
    plain_ms, shadowed_ms = [], []
    for i in range(8):
        body = _body(heldout, 3, start=3 * i)
        a, b = plain.invoke(body), shadowed.invoke(body)
        probabilities = [[p["probabilities"] for p in reply.body["predictions"]] for reply in (a, b)]
        assert probabilities[0] == probabilities[1]
        plain_ms.append(plain_sink.lines[-1]["LatencyMs"])
        shadowed_ms.append(sink.lines[-1]["LatencyMs"])
    # the bound: the shadow wait, plus slack for a busy shared machine (medians: single calls jitter)
    assert np.median(shadowed_ms) <= np.median(plain_ms) + settings.shadow_wait_ms + 30
    assert max(shadowed_ms) < 1000  # B's 1.5 s sleep never reaches the answer
    statuses = {r["ShadowStatus"] for r in sink.lines if "ShadowStatus" in r}
    assert statuses <= {"timeout", "error", "skipped"} and statuses


def test_shadow_records_both_predictions(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    svc = Service(replace(BASE, shadow_version="v2", shadow_wait_ms=2000.0), sink)
    svc.invoke(_body(heldout, 20))
    rec = sink.lines[0]
    assert rec["ShadowStatus"] == "ok" and rec["ShadowVersion"] == "v2" and rec["ShadowLatencyMs"] > 0
    v2 = OnnxModel(ModelCard.load("v2"), PACKAGED_MODEL_DIR).predict(heldout[:20])
    assert rec["ShadowClass"] == v2.labels.tolist()
    assert rec["ShadowScore"] == v2.probabilities[:, 1].astype(np.float64).tolist()  # per the task, as served
    assert rec["ShadowAgree"] == pytest.approx(float(np.mean(np.array(rec["PredictedClass"]) == v2.labels)),
                                               abs=1e-6)
    declared = {m["Name"] for m in rec["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"ShadowAgree", "PredictionScore", "LatencyMs"} <= declared


def test_concurrent_requests_are_micro_batched(heldout: NDArray[np.float32]) -> None:
    sink = MemorySink()
    settings = replace(BASE, concurrency=8, batch_max_rows=64, batch_max_wait_ms=50.0)
    svc = Service(settings, sink)
    replies: dict[int, dict[str, Any]] = {}
    barrier = threading.Barrier(8)

    def _call(i: int) -> None:
        barrier.wait()
        replies[i] = svc.invoke(_body(heldout, 2, start=2 * i)).body

    threads = [threading.Thread(target=_call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert svc.batcher is not None and svc.batcher.batches_run < 8
    alone = OnnxModel(ModelCard.load("v1"), PACKAGED_MODEL_DIR).predict(heldout[:16])
    for i in range(8):  # every request got its own rows back
        got = [p["class"] for p in replies[i]["predictions"]]
        assert got == alone.labels[2 * i:2 * i + 2].tolist()
