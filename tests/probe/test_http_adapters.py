"""The Cloud Run adapters: a WSGI app served by a real ``wsgiref`` server on 127.0.0.1 over real HTTP, and
an ASGI app called as the ASGI spec says (scope, receive, send). Statuses come from exceptions and
answers; the model calls inside are recorded."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import numpy as np
import pytest
from inferwatch_probe import ClientError, Probe

from tests.probe.conftest import CASES, ModelCase, ProbeFactory, expected
from tests.probe.linecheck import check_line, exact_value


def run_async(coro: Any) -> Any:
    """``asyncio.run`` on a thread of its own: a session-scoped browser fixture (Playwright's sync API)
    keeps an event loop running in the main thread for the rest of the session, and asyncio refuses to
    start another there."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")



class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # access logs would only clutter the output
        pass


def _wsgi_app(probe: Probe, session: Any) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/predict":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            rows = json.loads(environ["wsgi.input"].read(size))["rows"]
            x = np.asarray(rows, dtype=np.float32)
            if x.ndim != 2 or x.shape[1] != 4:
                raise ClientError("rows must be a list of 4 numbers each")
            labels = session.run(None, {"X": x})[0]
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"labels": [str(v) for v in labels]}).encode()]
        if path == "/fallback":
            start_response("200 OK", [("Content-Type", "application/json"), ("X-Inferwatch-Status", "degraded")])
            return [b"{}"]
        if path == "/boom":
            raise RuntimeError("the model exploded")
        if path == "/stream":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return (chunk for chunk in (b"a", b"b"))
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such endpoint"]

    return app


@pytest.fixture
def served(cases: dict[str, ModelCase], make_probe: ProbeFactory) -> Iterator[tuple[str, list[str]]]:
    probe, lines = make_probe(task="multiclass", mode="invocation", feature_names=cases["multiclass_str"].feature_names)
    session = probe.session(cases["multiclass_str"].session())
    server = make_server("127.0.0.1", 0, probe.wsgi(_wsgi_app(probe, session)), server_class=WSGIServer,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", lines
    server.shutdown()
    server.server_close()


def _request(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_lines(lines: list[str], n: int) -> list[dict[str, Any]]:
    """The response reaches the client before the server closes it (and the invocation ends)."""
    deadline = time.monotonic() + 10
    while len(lines) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(lines) == n, lines
    return [check_line(line) for line in lines]


def test_wsgi_statuses_and_predictions_over_real_http(served: tuple[str, list[str]],
                                                      cases: dict[str, ModelCase]) -> None:
    base, lines = served
    x = cases["multiclass_str"].x[[0, 70]].tolist()
    status, answer = _request(f"{base}/predict", {"rows": x}, {"X-Request-Id": "req-42"})
    assert status == 200
    status, body = _request(f"{base}/predict", {"rows": [[1, 2]]})
    assert status == 400 and json.loads(body) == {"error": "rows must be a list of 4 numbers each"}
    assert _request(f"{base}/nowhere")[0] == 404
    assert _request(f"{base}/fallback")[0] == 200
    assert _request(f"{base}/boom")[0] == 500  # wsgiref answers 500 for the exception the probe re-raised
    assert _request(f"{base}/stream") == (200, b"ab")
    docs = _wait_lines(lines, 6)
    assert [d["Status"] for d in docs] == ["ok", "client_error", "client_error", "degraded", "error", "ok"]
    assert [d.get("ErrorType") for d in docs] == [None, "ClientError", "HTTP404", "Degraded", "RuntimeError", None]
    assert docs[0]["RequestId"] == "req-42" and docs[0]["Rows"] == 2
    assert docs[0]["PredictedLabel"] == json.loads(answer)["labels"]
    assert docs[0]["InputSummary"]["sepal length (cm)"] == [float(np.float32(x[0][0])), float(np.float32(x[1][0]))]


# -- ASGI ------------------------------------------------------------------------------------------------


def _asgi_app(session: Any, case: ModelCase) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": "lifespan.startup.complete", "seen": message["type"]})
            return
        path = scope["path"]
        if path == "/predict":
            session.run(None, case.feed([0, 1]))  # in the request's task
            await asyncio.to_thread(session.run, None, case.feed([2]))  # in a thread: the context is copied
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"ok"})
        elif path == "/bad":
            raise ClientError("missing field rows", status_code=422)
        elif path == "/unavailable":
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/fallback":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"x-inferwatch-status", b"degraded")]})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/slow":
            await asyncio.sleep(10)
        else:
            raise KeyError(path)

    return app


async def _call(app: Any, path: str, headers: list[tuple[bytes, bytes]] | None = None,
                body: bytes = b"") -> list[dict[str, Any]]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "path": path,
             "raw_path": path.encode(), "query_string": b"", "headers": headers or [], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8080), "scheme": "http", "root_path": ""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_asgi_statuses_and_predictions(cases: dict[str, ModelCase], make_probe: ProbeFactory) -> None:
    case = cases["binary"]
    probe, lines = make_probe(task="binary", mode="invocation", feature_names=case.feature_names)
    app = probe.asgi(_asgi_app(probe.session(case.session()), case))

    async def scenario() -> list[Any]:
        sent = await _call(app, "/predict", [(b"x-cloud-trace-context", b"105445aa7843bc8bf206b12000100000/1;o=1")])
        bad = await _call(app, "/bad")
        await _call(app, "/unavailable")
        await _call(app, "/fallback")
        with pytest.raises(KeyError):
            await _call(app, "/missing")
        slow = asyncio.create_task(_call(app, "/slow"))
        await asyncio.sleep(0.05)
        slow.cancel()  # the caller went away
        with pytest.raises(asyncio.CancelledError):
            await slow
        return [sent, bad]

    sent, bad = run_async(scenario())
    assert sent[0]["status"] == 200
    assert bad[0]["status"] == 422 and json.loads(bad[1]["body"]) == {"error": "missing field rows"}
    docs = [check_line(line) for line in lines]
    assert [d["Status"] for d in docs] == ["ok", "client_error", "error", "degraded", "error", "client_error"]
    assert [d.get("ErrorType") for d in docs] == [None, "ClientError", "HTTP503", "Degraded", "KeyError",
                                                  "CancelledError"]
    assert docs[0]["RequestId"] == "105445aa7843bc8bf206b12000100000" and docs[0]["Rows"] == 3


def test_asgi_lifespan_passes_through_unmeasured(make_probe: ProbeFactory) -> None:
    probe, lines = make_probe(mode="invocation")
    app = probe.asgi(_asgi_app(None, None))  # type: ignore[arg-type]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    run_async(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete", "seen": "lifespan.startup"}] and lines == []


@pytest.mark.parametrize("name", CASES)
def test_every_task_through_wsgi_over_http_and_asgi(name: str, cases: dict[str, ModelCase],
                                                   make_probe: ProbeFactory) -> None:
    case = cases[name]
    probe, lines = make_probe(task=case.task, mode="invocation")
    session = probe.session(case.session(), feature_names=None if isinstance(case.x, dict) else case.feature_names)

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        rows = json.loads(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))["rows"]
        session.run(None, case.feed(rows))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        rows = json.loads((await receive())["body"])["rows"]
        session.run(None, case.feed(rows))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    server = make_server("127.0.0.1", 0, probe.wsgi(wsgi_app), server_class=WSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        assert _request(f"http://127.0.0.1:{server.server_address[1]}/", {"rows": [3, 7]})[0] == 200
        _wait_lines(lines, 1)
    finally:
        server.shutdown()
        server.server_close()
    run_async(_call(probe.asgi(asgi_app), "/", body=json.dumps({"rows": [11]}).encode()))
    for rows, doc in zip([[3, 7], [11]], _wait_lines(lines, 2), strict=True):
        want = expected(case, rows)
        if case.task == "regression":
            assert [exact_value(v, "v") for v in doc["PredictionValue"]] == want["values"]
        else:
            assert [exact_value(v, "s") for v in doc["PredictionScore"]] == want["scores"]
            assert doc.get("PredictedClass", doc.get("PredictedLabel")) == want["labels"]
