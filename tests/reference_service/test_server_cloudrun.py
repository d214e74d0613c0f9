from __future__ import annotations

import http.client
import json
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from reference_service.model import PACKAGED_MODEL_DIR

from .conftest import ServerProcess, telemetry_lines


def _instances(heldout: NDArray[np.float32], n: int = 1) -> dict[str, Any]:
    return {"instances": heldout[:n].tolist()}


def test_predict_health_and_telemetry(server_factory: Any, tmp_path: Path, heldout: NDArray[np.float32]) -> None:
    server: ServerProcess = server_factory({"INFERWATCH_DEPLOYMENT": "scorer-v1", "INFERWATCH_MEMORY_MB": "1024"})
    assert server.request("GET", "/healthz") == (200, server.request("GET", "/healthz")[1])
    assert server.request("GET", "/healthz")[1]["degraded"] is False
    code, body = server.predict(_instances(heldout, 3))
    assert code == 200 and len(body["predictions"]) == 3 and body["model_version"] == "v1"
    code, body = server.predict({"instances": [[1.0] * 29]})
    assert code == 400 and body["fields"] == [{"field": "instances[0]",
                                               "problem": "must have 30 values (one per feature), got 29"}]
    assert server.request("GET", "/nope")[0] == 404
    assert server.stop() == 0
    lines = telemetry_lines(tmp_path / "s" / "telemetry")
    assert [ln["Status"] for ln in lines] == ["ok", "client_error"]
    assert lines[0]["ColdStart"] == 1 and lines[0]["InitMs"] > 0 and lines[1]["ColdStart"] == 0
    assert lines[0]["Deployment"] == "scorer-v1" and lines[0]["MemoryMb"] == 1024 and lines[0]["MaxMemoryUsedMb"] > 10


def test_oversize_body_is_refused_before_it_is_read(server_factory: Any) -> None:
    server: ServerProcess = server_factory({"INFERWATCH_MAX_BODY_BYTES": "4096"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        # announce 100 MB but send none of it: the answer must come anyway
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        head = b"".join(chunks).decode()
    assert head.startswith("HTTP/1.1 413") and '"field":"body"' in head
    assert server.request("POST", "/predict", b"x")[0] == 400


def test_missing_content_length_is_named(server_factory: Any) -> None:
    server: ServerProcess = server_factory()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.putrequest("POST", "/predict")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 411 and json.loads(resp.read())["fields"][0]["field"] == "Content-Length"


def test_missing_model_degrades_and_recovers(server_factory: Any, tmp_path: Path, heldout: NDArray[np.float32]) -> None:
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    server: ServerProcess = server_factory({"INFERWATCH_MODEL_DIR": str(model_dir), "INFERWATCH_MODEL_RETRY_S": "0"})
    code, body = server.predict(_instances(heldout, 2))
    assert code == 200 and body["degraded"] is True
    assert server.request("GET", "/healthz")[1]["degraded"] is True
    shutil.copy(PACKAGED_MODEL_DIR / "v1.onnx", model_dir / "v1.onnx")
    code, body = server.predict(_instances(heldout, 2))
    assert code == 200 and body["degraded"] is False
    assert server.request("GET", "/healthz")[1]["degraded"] is False


def test_prewarmed_first_request_is_not_cold(server_factory: Any, tmp_path: Path, heldout: NDArray[np.float32]) -> None:
    server: ServerProcess = server_factory({"INFERWATCH_PREWARMED": "1"})
    server.predict(_instances(heldout))
    server.stop()
    assert [ln["ColdStart"] for ln in telemetry_lines(tmp_path / "s" / "telemetry")] == [0]


def _refuses_connections(port: int, within_s: float) -> bool:
    """True once the listener is closed (polled: a loaded machine handles the signal late)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_sigterm_lets_in_flight_requests_finish(server_factory: Any, heldout: NDArray[np.float32]) -> None:
    server: ServerProcess = server_factory({"INFERWATCH_FAULT_SLOW_RATE": "1", "INFERWATCH_FAULT_SLOW_MS": "1500",
                                            "INFERWATCH_CONCURRENCY": "2"})
    results: list[tuple[int, dict[str, Any]]] = []
    worker = threading.Thread(target=lambda: results.append(server.predict(_instances(heldout))))
    worker.start()
    time.sleep(0.5)  # the request is inside the slow model now
    t0 = time.monotonic()
    server.proc.send_signal(15)
    assert _refuses_connections(server.port, within_s=3.0)  # no longer accepting
    worker.join(10)
    assert results and results[0][0] == 200 and results[0][1]["degraded"] is False
    assert server.proc.wait(10) == 0 and time.monotonic() - t0 < 5
    assert any(ln.startswith("STOPPED drained=true") for ln in server.stderr_lines)


def test_bad_configuration_names_the_variable(tmp_path: Path) -> None:
    from .conftest import start_server

    with pytest.raises(RuntimeError, match="INFERWATCH_MODEL_VERSION"):
        start_server({"INFERWATCH_MODEL_VERSION": "v7"}, tmp_path)


def test_pubsub_push_envelope(server_factory: Any, heldout: NDArray[np.float32]) -> None:
    import base64

    server: ServerProcess = server_factory()
    data = base64.b64encode(json.dumps(_instances(heldout, 2)).encode()).decode()
    code, body = server.request("POST", "/pubsub", json.dumps({"message": {"data": data, "messageId": "m-1"}}).encode())
    assert code == 200 and body["request_id"] == "m-1" and len(body["predictions"]) == 2
    code, body = server.request("POST", "/pubsub", b'{"message": {}}')
    assert code == 400 and body["fields"][0]["field"] == "message.data"
