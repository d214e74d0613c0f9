"""A team's own handlers for the test models (tests/own_models.py), written as the docs say: the probe around
a Lambda handler and around a WSGI app (Cloud Run), an onnxruntime session wrapped by ``probe.session``."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import numpy as np
from inferwatch_probe import Probe

from tests.own_models import OwnModel


class LambdaContext:
    """What the Lambda runtime passes a handler (the fields the probe reads)."""

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:scorer:live"
        self.memory_limit_in_mb = 1024
        self._deadline = time.monotonic() + 3.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _feed(m: OwnModel, session: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows as the model takes them: one input per column (wine) or one 2-D input."""
    if m.strings:
        return {c: np.asarray([[r[c]] for r in rows], dtype=object if c in m.strings else np.float32)
                for c in (*m.numeric, *m.strings)}
    dtype = np.float64 if session.get_inputs()[0].type == "tensor(double)" else np.float32
    return {session.get_inputs()[0].name: np.asarray([[r[c] for c in m.numeric] for r in rows], dtype=dtype)}


def _answer(outputs: list[Any]) -> list[Any]:
    return [o.tolist() if isinstance(o, np.ndarray) else o for o in outputs]


def probe_for(m: OwnModel, deployment: str, telemetry: Path) -> tuple[Probe, Any]:
    """The probe and the probed session a handler of ``m`` keeps for its container's life."""
    probe = Probe(deployment, "1", m.task, service=m.name, mode="invocation",
                  env={"INFERWATCH_TELEMETRY_DIR": str(telemetry / deployment)})
    # a 2-D input gets the data's column names, as `baseline create` advised; per-column inputs name themselves
    session = probe.session(m.model, feature_names=None if m.strings else list(m.numeric))
    return probe, session


def lambda_handler(m: OwnModel, probe: Probe, session: Any) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    @probe.lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        rows = json.loads(event["body"])["rows"]
        if not rows:
            raise probe.ClientError("no rows")
        return {"statusCode": 200, "body": json.dumps(_answer(session.run(None, _feed(m, session, rows))))}

    return handler


def wsgi_app(m: OwnModel, probe: Probe, session: Any) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        rows = json.loads(environ["wsgi.input"].read(size))["rows"]
        body = json.dumps(_answer(session.run(None, _feed(m, session, rows)))).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return probe.wsgi(app)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's name
        pass


@contextmanager
def served(app: Any) -> Iterator[str]:
    """The WSGI app on a real HTTP server on 127.0.0.1; yields its URL."""
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, rows: list[dict[str, Any]]) -> int:
    request = urllib.request.Request(url, data=json.dumps({"rows": rows}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)
