"""Fixtures for the reference service: real model files, real processes, and small Model doubles
(implementations of the Model protocol, not mocks) for slow, failing and counting models."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from reference_service.model import PACKAGED_MODEL_DIR, ModelCard
from reference_service.prediction import Prediction

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def card() -> ModelCard:
    return ModelCard.load("v1")


@pytest.fixture(scope="session")
def heldout() -> NDArray[np.float32]:
    return np.asarray(np.load(PACKAGED_MODEL_DIR / "heldout_v1.npz")["inputs"], dtype=np.float32)


class SlowModel:
    """Sleeps, then answers with fixed probabilities."""

    def __init__(self, delay_s: float, version: str = "v1") -> None:
        self.delay_s = delay_s
        self._version = version
        self.calls = 0

    @property
    def version(self) -> str:
        return self._version

    def predict(self, x: NDArray[np.float32]) -> Prediction:
        self.calls += 1
        time.sleep(self.delay_s)
        proba = np.tile(np.array([0.2, 0.8], dtype=np.float32), (len(x), 1))
        return Prediction(proba, np.ones(len(x), dtype=np.int64))


class RaisingModel:
    def __init__(self, exc: Exception, version: str = "v2") -> None:
        self.exc = exc
        self._version = version

    @property
    def version(self) -> str:
        return self._version

    def predict(self, x: NDArray[np.float32]) -> Prediction:
        raise self.exc


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    stderr_lines: list[str] = field(default_factory=list)
    pump: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 30) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    def predict(self, doc: Any, **kw: Any) -> tuple[int, dict[str, Any]]:
        return self.request("POST", "/predict", json.dumps(doc).encode(), {"Content-Type": "application/json"}, **kw)

    def stop(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(5)
        self.close()
        return code

    def close(self) -> None:
        if self.pump is not None:
            self.pump.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def start_server(env: Mapping[str, str], tmp: Path, *, ready_timeout_s: float = 60) -> ServerProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INFERWATCH_")}
    full_env.update({"PORT": "0", "INFERWATCH_HOME": str(tmp / "home"),
                     "INFERWATCH_TELEMETRY_DIR": str(tmp / "telemetry"), "PYTHONPATH": str(REPO)})
    full_env.update(env)
    proc = subprocess.Popen([sys.executable, "-m", "reference_service.server_cloudrun"], env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp)
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def _pump() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            seen.append(line)
            lines.put(line)

    pump = threading.Thread(target=_pump, daemon=True)
    pump.start()
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if proc.poll() is not None:
                pump.join(5)
                assert proc.stderr is not None
                proc.stderr.close()
                raise RuntimeError(f"server exited with {proc.returncode}: {seen}") from None
            continue
        if line.startswith("READY port="):
            return ServerProcess(proc, int(line.split("=", 1)[1]), seen, pump)
    proc.kill()
    proc.wait(5)
    pump.join(5)
    raise RuntimeError(f"server not ready in {ready_timeout_s}s: {seen}")


def telemetry_lines(directory: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.jsonl")):
        out.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return out


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[ServerProcess] = []

    def _start(env: Mapping[str, str] | None = None, sub: str = "s") -> ServerProcess:
        folder = tmp_path / sub
        folder.mkdir(exist_ok=True)
        server = start_server(env or {}, folder)
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


class FakeLambdaContext:
    """The two members of the Lambda context object the handler uses; remaining time runs down for real."""

    def __init__(self, remaining_ms: int = 3000, request_id: str = "req-1") -> None:
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def sqs(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
