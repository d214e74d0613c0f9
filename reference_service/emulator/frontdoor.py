"""The emulator's HTTP front door on 127.0.0.1 (what API Gateway / a Cloud Run URL is to real functions).

Endpoints::

    POST /services/<service>/predict   routed by the service's weights to one deployment's instance;
                                       the instance's answer is passed through, with headers
                                       X-Inferwatch-Deployment, X-Inferwatch-Instance, X-Inferwatch-Cold-Start
    POST /services/<service>/traffic   {"weights": {"<deployment>": w, ...}} | {"promote": "<deployment>"}
                                       | {"canary": {"deployment": "<d>", "weight": 0.1}} | {"rollback": true}
    GET  /status                       JSON: services (weights, routed counts) and deployments (instances)
    GET  /healthz                      200 {"ok": true}

Platform errors are JSON {"error": ..., "fields": [...]} with 429 (throttled: every instance busy at
max_instances), 502 (instance crashed or was OOM-killed mid-request), 503 (instance failed to start, or the
emulator is stopping), 504 (no answer within the timeout), 413 (body over 6 MB, refused before reading).
Stdlib ThreadingHTTPServer: the emulator must run anywhere the reference service runs, with no extra deps.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from reference_service.emulator.errors import (
    ConfigError,
    EmulatorError,
    EmulatorStoppedError,
    InstanceLostError,
    InstanceStartError,
    ThrottledError,
    UnknownServiceError,
    UpstreamTimeoutError,
)

if TYPE_CHECKING:
    from reference_service.emulator.runtime import Emulator

log = logging.getLogger("reference_service.emulator")
MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
_ROUTE = re.compile(r"^/services/([^/]+)/(predict|traffic)$")
_STATUS_OF: tuple[tuple[type[EmulatorError], int], ...] = (
    (ThrottledError, 429),
    (InstanceLostError, 502),
    (InstanceStartError, 503),
    (EmulatorStoppedError, 503),
    (UpstreamTimeoutError, 504),
    (UnknownServiceError, 404),
    (ConfigError, 400),
)


def _status_for(exc: EmulatorError) -> int:
    for kind, status in _STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 500


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections are closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle / delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs stay quiet: the instances' telemetry is the record of each request."""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload).encode())

    def _send_error(self, status: int, message: str, field: str | None = None, problem: str | None = None) -> None:
        fields = [] if field is None else [{"field": field, "problem": problem or message}]
        self._send_json(status, {"error": message, "fields": fields})

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            self._send_error(411, "Content-Length required", "Content-Length", "missing")
            return None
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            self._send_error(400, "bad Content-Length", "Content-Length", f"{length_header!r} is not an integer")
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True  # refused before reading: the unread body must not be parsed
            self._send_error(413, "request body too large", "body", f"{length} bytes > {MAX_BODY_BYTES}")
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send_json(200, {"ok": True})
        elif path == "/status":
            self._send(200, self.server.emulator.stats_json().encode())
        else:
            self._send_error(404, f"no route GET {path}", "path", "unknown")

    def do_POST(self) -> None:
        match = _ROUTE.match(self.path.split("?", 1)[0])
        if match is None:
            self.close_connection = True
            self._send_error(404, f"no route POST {self.path}", "path", "unknown")
            return
        body = self._read_body()
        if body is None:
            return
        service, action = match.groups()
        try:
            if action == "predict":
                self._predict(service, body)
            else:
                self._traffic(service, body)
        except EmulatorError as exc:
            field = getattr(exc, "field", None)
            self._send_error(_status_for(exc), str(exc), field, getattr(exc, "problem", None))
        except Exception as exc:  # a bug of the emulator: answer it, keep serving, leave a trace
            log.exception("front door failed on POST %s", self.path)
            self._send_error(500, f"emulator error: {exc.__class__.__name__}")

    def _predict(self, service: str, body: bytes) -> None:
        result = self.server.emulator.invoke(service, body, headers=dict(self.headers.items()))
        headers = {
            "X-Inferwatch-Deployment": result.deployment,
            "X-Inferwatch-Instance": result.instance_id,
            "X-Inferwatch-Cold-Start": "1" if result.cold_start else "0",
        }
        self._send(result.status, result.body, headers, result.content_type)

    def _traffic(self, service: str, body: bytes) -> None:
        emulator = self.server.emulator
        try:
            request = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError("body", f"not JSON: {exc}") from exc
        if not isinstance(request, dict) or len(request) != 1:
            raise ConfigError("body", "expected one of weights, promote, canary, rollback")
        (kind, value), = request.items()
        if kind == "weights":
            if not isinstance(value, dict):
                raise ConfigError("weights", "must be an object of deployment -> weight")
            weights = emulator.set_traffic(service, value)
        elif kind == "promote":
            if not isinstance(value, str):
                raise ConfigError("promote", "must be a deployment name")
            weights = emulator.promote(service, value)
        elif kind == "canary":
            if not isinstance(value, dict) or set(value) != {"deployment", "weight"}:
                raise ConfigError("canary", "must be {\"deployment\": name, \"weight\": share}")
            weights = emulator.canary(service, value["deployment"], value["weight"])
        elif kind == "rollback":
            if value is not True:
                raise ConfigError("rollback", "must be true")
            weights = emulator.rollback(service)
        else:
            raise ConfigError(kind, "unknown traffic action (weights, promote, canary, rollback)")
        self._send_json(200, {"service": service, "weights": dict(weights)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emulator: Emulator, port: int) -> None:
        self.emulator = emulator
        super().__init__(("127.0.0.1", port), _Handler)


class FrontDoor:
    """Runs the HTTP front door on a background thread."""

    def __init__(self, emulator: Emulator, *, port: int = 0) -> None:
        self._server = _Server(emulator, port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="emulator-frontdoor", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


__all__ = ["MAX_BODY_BYTES", "FrontDoor"]
