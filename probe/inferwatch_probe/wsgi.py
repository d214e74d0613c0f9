"""WSGI (Flask, Django, any ``app(environ, start_response)``): ``app = probe.wsgi(app)``.

An invocation runs from the call until the server closes the response (so streaming a body counts). Its
status comes from the status line the app starts (4xx, 5xx) and from exceptions; ``probe.ClientError``
raised before the response started is answered ``4xx`` with ``{"error": message}``. The request id is
``X-Request-Id``, else the trace id of ``X-Cloud-Trace-Context`` (Cloud Run), else a random one. Model
calls are recorded while the app callable runs (not while a lazy body is iterated afterwards).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from inferwatch_probe.errors import ClientError
from inferwatch_probe.measure import CURRENT, Invocation
from inferwatch_probe.session import SessionOwner

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
StartResponse = Callable[..., Any]


class HttpMeter(SessionOwner, Protocol):
    def begin(self, request_id: str | None) -> Invocation | None: ...

    def finish(self, inv: Invocation | None, exc: BaseException | None) -> None: ...


def request_id_from(request_id: str | None, trace: str | None) -> str | None:
    for value in (request_id, (trace or "").split("/")[0].split(";")[0]):
        if value and REQUEST_ID.match(value):
            return value
    return None


def error_body(exc: ClientError) -> bytes:
    return json.dumps({"error": str(exc)}).encode()


class _Closing:
    """The app's response iterable; ending the invocation when the server closes it."""

    def __init__(self, result: Iterable[bytes], meter: HttpMeter, inv: Invocation | None) -> None:
        self._result = result
        self._meter = meter
        self._inv = inv
        self._failure: BaseException | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._result
        except BaseException as exc:
            self._failure = exc
            raise

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        except BaseException as exc:
            self._failure = self._failure or exc
            raise
        finally:
            self._meter.finish(self._inv, self._failure)


class ProbedWSGI:
    def __init__(self, meter: HttpMeter, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self._meter = meter
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        inv = self._meter.begin(request_id_from(environ.get("HTTP_X_REQUEST_ID"),
                                                environ.get("HTTP_X_CLOUD_TRACE_CONTEXT")))
        started = False

        def probed_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal started
            started = True
            if inv is not None:
                try:
                    inv.answer(int(status[:3]), headers)
                except Exception as exc:  # noqa: BLE001 - an odd status line: measured anyway
                    self._meter.health.fail("reading the WSGI status", exc)
            return start_response(status, headers, exc_info) if exc_info is not None else start_response(status,
                                                                                                         headers)

        token = CURRENT.set(inv)
        try:
            result = self._app(environ, probed_start_response)
        except ClientError as exc:
            if started:
                self._meter.finish(inv, exc)
                raise
            body = error_body(exc)
            start_response(f"{exc.status_code} Client Error", [("Content-Type", "application/json"),
                                                               ("Content-Length", str(len(body)))])
            self._meter.finish(inv, exc)
            return [body]
        except BaseException as exc:
            self._meter.finish(inv, exc)
            raise
        finally:
            CURRENT.reset(token)
        return _Closing(result, self._meter, inv)
