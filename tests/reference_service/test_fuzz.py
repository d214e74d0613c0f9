"""Hostile requests through both adapters: at least 10,000 in total (Lambda 6,000 in-process, the
Cloud Run server 4,000 over HTTP). None may answer 500; every 4xx names the bad field.

Each Hypothesis example carries a batch of BATCH requests: generating an example costs far more than
answering a request, so batching keeps 10,000 requests within seconds rather than minutes."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_service.handler_lambda import LambdaAdapter
from reference_service.invocation import Service
from reference_service.settings import ServiceSettings
from reference_service.telemetry import MemorySink

from .conftest import FakeLambdaContext, ServerProcess, start_server
from .hostile import raw_bodies, request_docs

SETTINGS = ServiceSettings(concurrency=1, deployment="fuzz", max_body_bytes=64 * 1024, input_summary=True)
FUZZ = settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
COUNT = {"lambda": 0, "http": 0}
BATCH = 16
pytestmark = pytest.mark.slow


def _check_answer(status: int, body: dict[str, Any]) -> None:
    assert status in (200, 400, 413), (status, body)
    if status == 200:
        assert body["degraded"] is False and len(body["predictions"]) >= 1
    else:
        assert isinstance(body["error"], str) and body["error"]
        assert body["fields"] and all(isinstance(f["field"],
                                                 str) and f["field"] and f["problem"] for f in body["fields"])


@pytest.fixture(scope="module")
def adapter() -> LambdaAdapter:
    return LambdaAdapter(Service(SETTINGS, MemorySink()))


def _http_v2(body: bytes, binary: bool) -> dict[str, Any]:
    text = base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace")
    return {"version": "2.0", "body": text, "isBase64Encoded": binary,
            "requestContext": {"http": {"method": "POST", "path": "/predict"}, "requestId": "f"}}


@settings(FUZZ, max_examples=150)
@given(bodies=st.lists(raw_bodies, min_size=BATCH, max_size=BATCH), binary=st.booleans(), rest=st.booleans())
def test_lambda_http_events(adapter: LambdaAdapter, bodies: list[bytes], binary: bool, rest: bool) -> None:
    for body in bodies:
        event = _http_v2(body, binary)
        if rest:
            event = {"httpMethod": "POST", "path": "/predict", "body": event["body"], "isBase64Encoded": binary,
                     "requestContext": {"requestId": "f"}}
        resp = adapter(event, FakeLambdaContext())
        _check_answer(resp["statusCode"], json.loads(resp["body"]))
        COUNT["lambda"] += 1


@settings(FUZZ, max_examples=150)
@given(docs=st.lists(request_docs(), min_size=BATCH, max_size=BATCH))
def test_lambda_direct_invokes(adapter: LambdaAdapter, docs: list[Any]) -> None:
    for doc in docs:
        out = adapter(doc, FakeLambdaContext())
        status = out.pop("statusCode")
        _check_answer(status, out)
        COUNT["lambda"] += 1


@settings(FUZZ, max_examples=75)
@given(bodies=st.lists(raw_bodies, min_size=BATCH, max_size=BATCH))
def test_lambda_sqs_batches(adapter: LambdaAdapter, bodies: list[bytes]) -> None:
    ids = [uuid.uuid4().hex for _ in bodies]
    event = {"Records": [{"messageId": i, "body": b.decode("utf-8", "replace"), "eventSource": "aws:sqs"}
                         for i, b in zip(ids, bodies, strict=True)]}
    out = adapter(event, FakeLambdaContext())
    failed = {f["itemIdentifier"] for f in out["batchItemFailures"]}
    assert failed <= set(ids)
    COUNT["lambda"] += len(bodies)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    server = start_server({"INFERWATCH_MAX_BODY_BYTES": str(SETTINGS.max_body_bytes), "INFERWATCH_CONCURRENCY": "1",
                           "INFERWATCH_INPUT_SUMMARY": "1"}, tmp)
    yield server
    assert server.stop() == 0


class _Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        for attempt in range(2):
            try:
                self.conn.request("POST", path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return resp.status, json.loads(data)
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def client(fuzz_server: ServerProcess) -> Iterator[_Client]:
    c = _Client(fuzz_server.port)
    yield c
    c.conn.close()


@settings(FUZZ, max_examples=240)
@given(bodies=st.lists(raw_bodies, min_size=BATCH, max_size=BATCH))
def test_cloud_run_http(client: _Client, bodies: list[bytes]) -> None:
    for body in bodies:
        _check_answer(*client.post("/predict", body, {"Content-Type": "application/json"}))
        COUNT["http"] += 1


@settings(FUZZ, max_examples=50)
@given(size=st.integers(SETTINGS.max_body_bytes + 1, 50 * SETTINGS.max_body_bytes), filler=st.sampled_from([b" ", b"[",
                                                                                                            b"9"]))
def test_cloud_run_oversize_refused_before_parsing(client: _Client, size: int, filler: bytes) -> None:
    # only the head of the body is sent: a 413 proves the server answered without reading (or parsing) it
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=10)
    try:
        conn.putrequest("POST", "/predict")
        conn.putheader("Content-Length", str(size))
        conn.endheaders(filler * 1024)
        resp = conn.getresponse()
        status, body = resp.status, json.loads(resp.read())
    finally:
        conn.close()
    assert status == 413 and body["fields"][0]["field"] == "body"
    COUNT["http"] += 1


@settings(FUZZ, max_examples=13)
@given(bodies=st.lists(raw_bodies, min_size=BATCH, max_size=BATCH))
def test_cloud_run_pubsub(client: _Client, bodies: list[bytes]) -> None:
    for body in bodies:
        envelope = json.dumps({"message": {"data": base64.b64encode(body).decode(), "messageId": "m"}}).encode()
        status, answer = client.post("/pubsub", envelope)
        _check_answer(status, answer)
        COUNT["http"] += 1


def test_fuzz_volume_reached() -> None:
    """Runs last in this module: the hostile requests above add up to at least 10,000."""
    assert COUNT["lambda"] >= 6000 and COUNT["http"] >= 4000 and sum(COUNT.values()) >= 10_000, COUNT
