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
Refusals of the request itself name the field too, as ``reference_service.json_http`` answers them: 404
(path or service), 405 (method, with Allow), 400 / 411 (Content-Length, Transfer-Encoding), 408 (stalled),
414 / 431 (request line, headers). Connections close without resetting the client.
Stdlib ThreadingHTTPServer: the emulator must run anywhere the reference service runs, with no extra deps.
"""

from __future__ import annotations

import json
import logging
import re
import threading

from reference_service.emulator.control import EmulatorControl
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
from reference_service.json_http import JsonHTTPServer, JsonRequestHandler

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


def _field_of(exc: EmulatorError) -> tuple[str | None, str | None]:
    """The request field a refusal names (a 4xx always names one)."""
    if isinstance(exc, UnknownServiceError):
        return "path", f"unknown service {exc.service!r}"
    return getattr(exc, "field", None), getattr(exc, "problem", None)


def _status_for(exc: EmulatorError) -> int:
    for kind, status in _STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 500


class _Handler(JsonRequestHandler):
    timeout = 30  # idle keep-alive connections are closed after this; so are stalled requests (408)
    max_body_bytes = MAX_BODY_BYTES
    server: _Server

    def allowed_methods(self, path: str) -> tuple[str, ...] | None:
        if _ROUTE.match(path):
            return ("POST",)
        return ("GET", "HEAD") if path in ("/healthz", "/status") else None

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/healthz":
            self.send_json(200, {"ok": True})
        else:
            self.send_raw(200, self.server.emulator.stats_json().encode())

    do_HEAD = do_GET  # send_raw leaves the body out

    def _send_error(self, status: int, message: str, field: str | None = None, problem: str | None = None) -> None:
        fields = [] if field is None else [{"field": field, "problem": problem or message}]
        self.send_json(status, {"error": message, "fields": fields})

    def do_POST(self) -> None:
        match = _ROUTE.match(self.path.split("?", 1)[0])
        assert match is not None  # allowed_methods let only these paths through
        body = self.read_body()
        if body is None:
            return
        service, action = match.groups()
        try:
            if action == "predict":
                self._predict(service, body)
            else:
                self._traffic(service, body)
        except EmulatorError as exc:
            field, problem = _field_of(exc)
            self._send_error(_status_for(exc), str(exc), field, problem)
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
        self.send_raw(result.status, result.body, content_type=result.content_type, headers=headers)

    def _traffic(self, service: str, body: bytes) -> None:
        emulator = self.server.emulator
        try:
            request = json.loads(body or b"null")
        except RecursionError as exc:
            raise ConfigError("body", "not JSON: nested too deeply") from exc
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
        self.send_json(200, {"service": service, "weights": dict(weights)})


class _Server(JsonHTTPServer):
    linger_bytes = 4 * MAX_BODY_BYTES  # drained before closing, so an eager oversized body still gets its 413

    def __init__(self, emulator: EmulatorControl, port: int) -> None:
        self.emulator = emulator
        super().__init__(("127.0.0.1", port), _Handler)


class FrontDoor:
    """Runs the HTTP front door on a background thread."""

    def __init__(self, emulator: EmulatorControl, *, port: int = 0) -> None:
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
