"""Statuses from exceptions and answers, Lambda timeouts, cold starts and init, concurrency."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from inferwatch_probe import ClientError

from tests.probe.conftest import FakeLambdaContext, ModelCase, ProbeFactory
from tests.probe.linecheck import check_line


def test_generic_invocations_reraise_and_classify(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")
    for exc in (TimeoutError("slow"), ValueError("bad model"), ClientError("bad input")):
        with pytest.raises(type(exc)), probe.invocation():
            raise exc
    with probe.invocation() as inv:
        inv.degraded("served the cached score")
    with probe.invocation():
        probe.degraded()
    probe.degraded()  # outside an invocation: nothing to mark, and no error
    with probe.invocation() as inv:
        inv.answer(429)
    docs = [check_line(line) for line in lines]
    assert [(d["Status"], d.get("ErrorType")) for d in docs] == [
        ("timeout", "TimeoutError"), ("error", "ValueError"), ("client_error", "ClientError"),
        ("degraded", "served the cached score"), ("degraded", "Degraded"), ("client_error", "HTTP429")]


def test_lambda_answers_set_the_status(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")

    @probe.lambda_handler
    def handler(event: dict[str, Any], context: Any) -> Any:
        if event["do"] == "client":
            raise probe.ClientError("field 'rows' is missing")
        if event["do"] == "raise":
            raise OSError("disk")
        if event["do"] == "degraded":
            return {"statusCode": 200, "headers": {"x-inferwatch-status": "Degraded"}, "body": "{}"}
        return {"statusCode": event["do"], "body": "{}"}

    assert handler({"do": "client"}, FakeLambdaContext()) == {
        "statusCode": 400, "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"error": "field 'rows' is missing"})}
    with pytest.raises(OSError, match="disk"):
        handler({"do": "raise"}, FakeLambdaContext())
    handler({"do": "degraded"}, FakeLambdaContext())
    handler({"do": 503}, FakeLambdaContext())
    handler({"do": "404"}, FakeLambdaContext())
    handler({"do": 201}, FakeLambdaContext())
    docs = [check_line(line) for line in lines]
    assert [d["Status"] for d in docs] == ["client_error", "error", "degraded", "error", "client_error", "ok"]


@pytest.mark.parametrize("mode", ["invocation", "window"])
def test_lambda_timeout_is_written_before_the_environment_would_be_killed(mode: str, make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode=mode)
    seen_at_return: list[int] = []

    @probe.lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(0.9)  # past the 0.6 s the context gives
        seen_at_return.append(len(lines))
        return {"statusCode": 200}

    assert handler({}, FakeLambdaContext(remaining_ms=600)) == {"statusCode": 200}
    assert seen_at_return == [1]  # the line was out while the handler still ran
    assert len(lines) == 1  # and its late return adds nothing
    doc = check_line(lines[0])
    if mode == "invocation":
        assert (doc["Status"], doc["ErrorType"]) == ("timeout", "LambdaTimeout")
        assert 500 <= doc["LatencyMs"] < 900
    else:
        assert doc["reason"] == "timeout" and doc["invocations"]["timeout"] == 1
        assert doc["error_types"] == {"LambdaTimeout": 1}


class _ExhaustedContext(FakeLambdaContext):
    """Plenty of time when asked at the start, none when asked again: a return after the deadline."""

    def __init__(self) -> None:
        super().__init__(remaining_ms=60_000)
        self._asked = 0

    def get_remaining_time_in_millis(self) -> int:
        self._asked += 1
        return 60_000 if self._asked == 1 else 0


def test_lambda_return_after_the_deadline_is_a_timeout(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")
    probe.lambda_handler(lambda event, context: {"statusCode": 200})({}, _ExhaustedContext())
    assert json.loads(lines[0])["Status"] == "timeout"


def test_cold_start_init_breakdown_and_model_sha256(tmp_path: Path, cases: dict[str, ModelCase],
                                                    make_probe: ProbeFactory) -> None:
    case = cases["binary"]
    model_path = tmp_path / "model.onnx"
    model_path.write_bytes(case.onnx)
    probe, lines = make_probe(mode="invocation")
    with probe.timed("tokenizer"):
        time.sleep(0.02)
    session = probe.session(model_path, feature_names=case.feature_names)

    @probe.lambda_handler
    def handler(event: dict[str, Any], context: Any) -> Any:
        return session.run(None, case.feed([0]))[0].tolist()

    handler({}, FakeLambdaContext())
    handler({}, FakeLambdaContext())
    first, second = (check_line(line) for line in lines)
    assert first["ModelSha256"] == hashlib.sha256(case.onnx).hexdigest() == second["ModelSha256"]
    assert first["ColdStart"] == 1 and first["InitMs"] > 0
    init = first["Init"]
    assert init["Type"] == "process" and init["LoadMs"] > 0 and init["StepsMs"]["tokenizer"] >= 20
    assert 0 <= init["ProcessToImportMs"] <= init["ReadyMs"] <= init["InitMs"]
    assert init["FirstInferenceMs"] > 0 and init["OtherMs"] >= 0
    assert second["ColdStart"] == 0 and second["InitMs"] == 0 and "Init" not in second


def test_provisioned_concurrency_is_not_a_cold_start(make_probe: ProbeFactory) -> None:
    env = {"AWS_LAMBDA_FUNCTION_NAME": "scorer", "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency",
           "AWS_LAMBDA_FUNCTION_VERSION": "7", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}
    probe, lines = make_probe(mode="invocation", env=env)
    probe.lambda_handler(lambda event, context: {"statusCode": 200})({}, FakeLambdaContext())
    doc = check_line(lines[0])
    assert (doc["ColdStart"], doc["InitMs"], doc["Init"]["Type"]) == (0, 0.0, "provisioned-concurrency")
    assert doc["FunctionVersion"] == "7" and doc["MemoryMb"] == 1024


def test_concurrency_is_the_most_invocations_in_progress_at_once(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="window")
    barrier = threading.Barrier(4)

    def work() -> None:
        with probe.invocation():
            barrier.wait(timeout=10)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with probe.invocation():
        pass
    probe.flush()
    doc = check_line(lines[0])
    assert doc["concurrency_max"] == 4 and doc["invocations"]["ok"] == 5
