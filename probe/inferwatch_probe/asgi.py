"""ASGI (Starlette, FastAPI, any ``app(scope, receive, send)``): ``app = probe.asgi(app)``.

HTTP requests are invocations, from the call until the app returns; lifespan and websocket scopes pass
through untouched. The status comes from ``http.response.start`` (4xx, 5xx, the degraded header) and
from exceptions; ``probe.ClientError`` raised before the response started is answered ``4xx`` with
``{"error": message}``; a cancelled request (the caller went away) counts as a client error. Model calls
are recorded in the request's task (and in threads started with ``asyncio.to_thread``, which copies the
context; ``loop.run_in_executor`` does not).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from inferwatch_probe.errors import ClientError
from inferwatch_probe.measure import CURRENT
from inferwatch_probe.wsgi import HttpMeter, error_body, request_id_from

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class ProbedASGI:
    def __init__(self, meter: HttpMeter, app: App) -> None:
        self._meter = meter
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self._app(scope, receive, send)
            return
        meter = self._meter
        inv = meter.begin(request_id_from(_header(scope, b"x-request-id"), _header(scope, b"x-cloud-trace-context")))
        started = False

        async def probed_send(message: Message) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
                if inv is not None:
                    try:
                        inv.answer(int(message.get("status", 200)), message.get("headers"))
                    except Exception as exc:  # noqa: BLE001 - an odd message: measured anyway
                        meter.health.fail("reading the ASGI response", exc)
            await send(message)

        token = CURRENT.set(inv)
        try:
            await self._app(scope, receive, probed_send)
        except ClientError as exc:
            if started:
                meter.finish(inv, exc)
                raise
            body = error_body(exc)
            await send({"type": "http.response.start", "status": exc.status_code,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            meter.finish(inv, exc)
            return
        except BaseException as exc:
            meter.finish(inv, exc)
            raise
        finally:
            CURRENT.reset(token)
        meter.finish(inv, None)
