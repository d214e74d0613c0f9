"""Cloud Run adapter: ``python -m reference_service.server_cloudrun``.

Built on the standard library's ThreadingHTTPServer on purpose: the image then needs nothing beyond
numpy and onnxruntime (no web framework, no ASGI server), starts faster, and the whole request path is
visible here and in ``reference_service.json_http`` (JSON for every refusal, lingering closes, a real
listen backlog). One thread per connection; ``INFERWATCH_CONCURRENCY`` bounds the requests doing work at
once (Cloud Run's own per-instance concurrency), and concurrent requests are micro-batched.

Endpoints:
  POST /predict   JSON body (see ``reference_service.core``). 200 answer (``degraded`` says whether the
                  model answered), 400 naming every bad field, 413 when Content-Length exceeds
                  INFERWATCH_MAX_BODY_BYTES (refused before reading the body; with ``Expect:
                  100-continue`` before it is even sent), 411 without Content-Length or with a chunked
                  body, 429 when the instance is saturated, 503 while shutting down, 500 only for a real
                  model failure. With header ``X-Inferwatch-Invocation-Type: Event`` the
                  request is stored durably and answered 202; it is processed in the background and, if
                  it keeps failing, lands in the dead-letter queue (see ``reference_service.dlq``).
  POST /pubsub    a Pub/Sub push delivery (deploy/pubsub-dlq.yaml): the request is the message's data; the
                  status code acks (2xx) or makes Pub/Sub redeliver and finally dead-letter it.
  GET /healthz    200 while the process serves; ``degraded`` is true while the model cannot load.
Every 4xx is ``{"error": ..., "fields": [{"field": ..., "problem": ...}]}``: also 404 (path), 405 (method,
with Allow), 408 (headers or body stalled for INFERWATCH_TIMEOUT_S), 414 and 431 (request line, headers).

Environment: see ``reference_service.settings`` (PORT, default 8080, and HOST, default 127.0.0.1, too).
On startup it prints ``READY port=<port>`` to stderr once listening. SIGTERM (and SIGINT): stop accepting,
let in-flight requests finish (up to the request timeout), exit 0.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from reference_service.dlq import AsyncWorker, DurableQueue
from reference_service.errors import DeadLetterError, FieldProblem, InvalidInputError, ServiceConfigError
from reference_service.invocation import Reply, Service
from reference_service.json_http import LINGER_BYTES, JsonHTTPServer, JsonRequestHandler
from reference_service.settings import ServiceSettings

ASYNC_HEADER = "X-Inferwatch-Invocation-Type"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def unwrap_pubsub(body: bytes) -> tuple[bytes, str | None]:
    """The request carried by a Pub/Sub push envelope ``{"message": {"data": <base64>, "messageId": ..}}``."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError([FieldProblem("body", "not a Pub/Sub push envelope (invalid JSON)")]) from exc
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("data"), str):
        raise InvalidInputError([FieldProblem("message.data", "missing: expected a base64 string")])
    try:
        data = base64.b64decode(message["data"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError([FieldProblem("message.data", "not base64")]) from exc
    message_id = message.get("messageId")
    return data, message_id if isinstance(message_id, str) and _REQUEST_ID.match(message_id) else None


class InferenceServer(JsonHTTPServer):
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], service: Service) -> None:
        self.service = service
        self.draining = False
        self.slots = threading.BoundedSemaphore(service.settings.concurrency)
        self.busy = 0
        self.busy_cond = threading.Condition()
        self._async_worker: AsyncWorker | None = None
        self._async_lock = threading.Lock()
        # a body over the limit is drained (up to this) before the connection closes, so a client that
        # sends it whole before reading still gets its 413 instead of a reset
        self.linger_bytes = max(LINGER_BYTES, 4 * service.settings.max_body_bytes)
        super().__init__(address, _Handler)
        if self.queue_path.exists():  # work left by an earlier process (maybe killed): resume it
            self.async_worker()

    @property
    def queue_path(self) -> Path:
        return self.service.settings.home / "dlq" / "queue.sqlite3"

    def async_worker(self) -> AsyncWorker:
        """The durable queue and its worker, opened on first use so plain servers touch no disk."""
        with self._async_lock:
            if self._async_worker is None:
                lease_s = max(2 * self.service.settings.timeout_s, self.service.settings.timeout_s + 1)
                self._async_worker = AsyncWorker(DurableQueue(self.queue_path), self.service, lease_s=lease_s)
                self._async_worker.start()
            return self._async_worker

    def stop_async(self) -> None:
        with self._async_lock:
            if self._async_worker is not None:
                self._async_worker.stop()

    def enter(self) -> None:
        with self.busy_cond:
            self.busy += 1

    def leave(self) -> None:
        with self.busy_cond:
            self.busy -= 1
            self.busy_cond.notify_all()

    def drain(self, timeout_s: float) -> bool:
        """Wait until no request is being worked on; False if some are still running at the timeout."""
        deadline = time.monotonic() + timeout_s
        with self.busy_cond:
            while self.busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.busy_cond.wait(remaining)
        return True


class _Handler(JsonRequestHandler):
    server: InferenceServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.service.settings.timeout_s)  # slow or idle clients are cut off
        self.max_body_bytes = self.server.service.settings.max_body_bytes

    @property
    def closing(self) -> bool:
        return self.server.draining

    def allowed_methods(self, path: str) -> tuple[str, ...] | None:
        if path in ("/predict", "/pubsub"):
            return ("POST",)
        return ("GET", "HEAD") if path in ("/healthz", "/health") else None

    def _request_id(self) -> str | None:
        for name in ("X-Request-Id", "X-Cloud-Trace-Context"):
            value = (self.headers.get(name) or "").split(";")[0].split("/")[0]
            if _REQUEST_ID.match(value):
                return value
        return None

    def do_GET(self) -> None:
        self.send_json(200, self.server.service.health())

    do_HEAD = do_GET  # send_raw leaves the body out

    def answer_too_large(self, size_bytes: int) -> None:
        reply = self.server.service.reject_oversize(size_bytes, request_id=self._request_id())
        self.send_json(reply.status_code, reply.body, close=True)  # never read: drained by the lingering close

    def do_POST(self) -> None:
        t0 = time.perf_counter()
        body = self.read_body()
        if body is None:
            return
        if self.server.draining:
            self.send_json(503, {"error": "shutting down", "fields": []}, close=True, headers={"Retry-After": "1"})
            return
        if (self.headers.get(ASYNC_HEADER) or "").lower() == "event":
            try:
                job_id = self.server.async_worker().accept(body, self._request_id())
            except DeadLetterError as exc:  # could not store it: say so, the caller keeps the work
                self.send_json(503, {"error": str(exc), "fields": []}, headers={"Retry-After": "1"})
                return
            self.send_json(202, {"accepted": True, "request_id": job_id})
            return
        if self.path.split("?")[0] == "/pubsub":
            self._pubsub(body, t0)
        else:
            self._predict(body, t0)

    def _pubsub(self, body: bytes, t0: float) -> None:
        """A Pub/Sub push delivery: the request is the message's base64 ``data``. The status code is the
        ack: 2xx acks; 4xx and 5xx make Pub/Sub redeliver and, after maxDeliveryAttempts, dead-letter it."""
        service = self.server.service
        try:
            data, message_id = unwrap_pubsub(body)
        except InvalidInputError as exc:
            reply = service.reject_invalid(exc, started_s=t0)
            self.send_json(reply.status_code, reply.body)
            return
        self._predict(data, t0, request_id=message_id)

    def _predict(self, body: bytes, t0: float, *, request_id: str | None = None) -> None:
        service = self.server.service
        if not self.server.slots.acquire(timeout=min(1.0, service.settings.inference_budget_s)):
            self.send_json(429, {"error": "instance saturated: retry", "fields": []}, headers={"Retry-After": "1"})
            return
        self.server.enter()
        try:
            reply: Reply = service.invoke(body, request_id=request_id or self._request_id(), started_s=t0)
            self.send_json(reply.status_code, reply.body)
        finally:
            self.server.slots.release()
            self.server.leave()


def serve(settings: ServiceSettings, *, host: str, port: int,
          on_ready: Callable[[int], None] | None = None, service: Service | None = None) -> int:
    """Serve until SIGTERM/SIGINT; ``on_ready`` gets the bound port (the real one when ``port`` is 0).
    Telemetry goes to INFERWATCH_TELEMETRY_DIR's file, else to stdout (``reference_service.telemetry``)."""
    service = service or Service(settings)
    server = InferenceServer((host, port), service)

    def _stop(signum: int, frame: object) -> None:
        server.draining = True
        threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"READY port={server.server_address[1]}", file=sys.stderr, flush=True)
    if on_ready is not None:
        on_ready(int(server.server_address[1]))
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()  # stop accepting: new connections are refused from here on
        drained = server.drain(settings.timeout_s)
        server.stop_async()
        print(f"STOPPED drained={str(drained).lower()}", file=sys.stderr, flush=True)
    return 0 if drained else 1


def main(env: Mapping[str, str] = os.environ, on_ready: Callable[[int], None] | None = None) -> int:
    try:
        settings = ServiceSettings.from_env(env)
        port = int(env.get("PORT", "8080"))
        service = Service(settings)  # a model file of your own that cannot be served stops it here
    except (ServiceConfigError, ValueError) as exc:
        print(f"reference_service: bad configuration: {exc}", file=sys.stderr, flush=True)
        return 2
    code = serve(settings, host=env.get("HOST", "127.0.0.1"), port=port, on_ready=on_ready, service=service)
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads still running a stuck model or shadow call must not hold the exit: everything we own is
    # flushed (telemetry lines are written with one unbuffered write each).
    os._exit(code)


if __name__ == "__main__":
    main()
