"""HTTP/1.1 on the standard library, for clients that send anything: shared by the Cloud Run adapter
(``server_cloudrun``) and the emulator's front door (``emulator.frontdoor``).

As shipped, ``BaseHTTPRequestHandler`` answers what it cannot parse with an HTML page, an unknown method
with 501 (a server fault), and closes the connection without a word when a read times out or a handler
raises. ``JsonRequestHandler`` answers every one of them in the service's error shape
``{"error": ..., "fields": [{"field": ..., "problem": ...}]}``::

    400  request line, version, Content-Length, body      405  method (with Allow)    404  path
    408  headers or body stalled                           411  Content-Length, Transfer-Encoding
    413  body (refused before it is read)                  414  path                  431  headers
    500  only for a bug of the server itself (logged with its traceback)

``JsonHTTPServer`` removes the two ways a client was reset without an answer. socketserver listens with a
backlog of 5: tens of clients connecting at once overflow the accept queue, and the kernel drops their SYNs
or answers with syncookies it then cannot honour (seconds of stall, or a reset). And closing a socket whose
receive buffer still holds unread bytes (the rest of a body we refused) makes the kernel send RST, so a
client still sending gets ECONNRESET instead of our answer. Connections therefore close the lingering way:
answer, shut down our sending side, read and discard until the client closes, within a byte and time bound.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reference_service.errors import FieldProblem

log = logging.getLogger("reference_service.http")

LINGER_S = 5.0  # longest a closing connection waits for the client to finish sending and hang up
LINGER_BYTES = 16 << 20  # most a closing connection reads and discards before it gives up (and resets)
_MAX_REQUEST_LINE_BYTES = 65536
_MAX_BLANK_LINES = 8  # CRLFs skipped before a request line (RFC 9112 section 2.2 asks for at least one)
_MAX_LENGTH_DIGITS = 18  # a longer Content-Length exceeds any limit (and int() refuses over 4300 digits)
_READ_CHUNK_BYTES = 1 << 16
# BaseHTTPRequestHandler's own refusals, by status: which part of the request was wrong
_FIELD_OF_STATUS = {400: "request line", 414: "path", 431: "headers", 505: "version"}


def error_body(message: str, field: str, problem: str) -> dict[str, Any]:
    return {"error": message, "fields": [FieldProblem(field, problem).as_dict()]}


def linger_close(sock: socket.socket, *, limit_bytes: int, linger_s: float) -> None:
    """Close ``sock`` without resetting the peer: FIN after our answer, then drain what it still sends."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + linger_s
        drained = 0
        while drained < limit_bytes:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                break
            sock.settimeout(remaining_s)
            chunk = sock.recv(min(_READ_CHUNK_BYTES, limit_bytes - drained))
            if not chunk:  # the client hung up: nothing unread is left to trigger a reset
                break
            drained += len(chunk)
    except OSError:  # already reset, timed out or never connected: nothing left to save
        pass
    sock.close()


class JsonHTTPServer(ThreadingHTTPServer):
    """A thread per connection, a listen backlog sized for real concurrency, lingering closes."""

    daemon_threads = True
    request_queue_size = socket.SOMAXCONN  # socketserver's 5 overflows; the kernel caps it at somaxconn
    linger_bytes = LINGER_BYTES
    linger_s = LINGER_S

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            linger_close(request, limit_bytes=self.linger_bytes, linger_s=self.linger_s)
        else:  # a datagram server's request: not ours, but keep the base behaviour
            super().shutdown_request(request)


class JsonRequestHandler(BaseHTTPRequestHandler):
    """Routes by path, then method (404, 405 with Allow); reads bodies by Content-Length only; answers
    every refusal in JSON. Subclasses define ``allowed_methods`` and ``do_<METHOD>``, and call
    ``read_body`` for a body and ``send_json`` / ``send_json_error`` / ``send_raw`` to answer."""

    protocol_version = "HTTP/1.1"
    max_body_bytes = 1 << 20
    _answered = False  # a response was sent for the current request
    _body_pending = False  # the request announced a body we have not consumed: close after answering
    _stage = "request line"  # the part being read, named by a 408
    _expect_continue = False

    def allowed_methods(self, path: str) -> tuple[str, ...] | None:
        """The methods ``path`` takes; None when there is no such path (404)."""
        return None

    @property
    def closing(self) -> bool:
        """True while the server is shutting down: every answer then closes its connection."""
        return False

    def setup(self) -> None:
        super().setup()
        # status, headers and body go out in one send(); without NODELAY a keep-alive connection can meet
        # Nagle's algorithm and the client's delayed ACK (a 40 ms stall per request)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs off: the service's telemetry is the log of record."""

    # -- answering ------------------------------------------------------------------------------------

    def send_raw(self, code: int, raw: bytes, *, content_type: str = "application/json", close: bool = False,
                 headers: Mapping[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {code} {self.responses.get(code, ('',))[0]}", f"Date: {self.date_time_string()}",
                 f"Content-Type: {content_type}", f"Content-Length: {len(raw)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if close or self.closing or self._body_pending or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        self._answered = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + raw)

    def send_json(self, code: int, body: Mapping[str, Any], *, close: bool = False,
                  headers: Mapping[str, str] | None = None) -> None:
        self.send_raw(code, json.dumps(body, separators=(",", ":")).encode(), close=close, headers=headers)

    def send_json_error(self, code: int, message: str, field: str, problem: str, *, close: bool = False,
                        headers: Mapping[str, str] | None = None) -> None:
        self.send_json(code, error_body(message, field, problem), close=close, headers=headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """BaseHTTPRequestHandler's own refusals (request line, version, header limits), in JSON."""
        short = self.responses.get(code, ("error",))[0]
        field = _FIELD_OF_STATUS.get(code, "request line")
        if code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED or (message or "").startswith("Bad request version"):
            # no HTTP/2 client sends a text request line: "HTTP/2.0" or "HTTP/9.9" there is a malformed request
            code, field, explain = HTTPStatus.BAD_REQUEST, "version", "not HTTP/1.x: send HTTP/1.1"
        self.send_json_error(code, message or short, field, explain or message or short, close=True)

    # -- one request ----------------------------------------------------------------------------------

    def handle_one_request(self) -> None:
        self._answered = self._body_pending = self._expect_continue = False
        self._stage = "request line"
        try:
            if self._read_request_line() and self._parse():
                self._dispatch()
        except TimeoutError:
            self._timed_out()
        except ConnectionError:  # the client reset or went away: no one is left to answer
            self.close_connection = True
        except Exception as exc:  # a bug of ours: answer it, leave a trace, keep serving other connections
            log.exception("%s failed on %s %s", type(self).__name__, self.command, self.path[:200])
            self.close_connection = True
            if not self._answered:
                self.send_json(500, {"error": f"internal error: {type(exc).__name__}", "fields": []}, close=True)

    def _read_request_line(self) -> bool:
        self.command, self.path, self.request_version = "", "", "HTTP/0.9"
        for _ in range(_MAX_BLANK_LINES + 1):
            self.raw_requestline = self.rfile.readline(_MAX_REQUEST_LINE_BYTES + 1)
            if not self.raw_requestline:  # the client hung up between requests
                self.close_connection = True
                return False
            if self.raw_requestline not in (b"\r\n", b"\n"):
                break
        else:
            self.send_json_error(400, "no request line", "request line", "only blank lines", close=True)
            return False
        self._stage = "headers"
        if len(self.raw_requestline) > _MAX_REQUEST_LINE_BYTES:
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, "request line too long",
                            f"longer than {_MAX_REQUEST_LINE_BYTES} bytes")
            return False
        return True

    def _parse(self) -> bool:
        if self.parse_request():
            return True
        if not self._answered:  # parse_request gives up silently on a blank request line
            self.send_json_error(400, "bad request line", "request line", "blank: expected METHOD PATH HTTP/1.1",
                                 close=True)
        return False

    def _dispatch(self) -> None:
        path = self.path.split("?", 1)[0]
        self._body_pending = self.headers.get("Transfer-Encoding") is not None or (
            self.headers.get("Content-Length", "0").strip() != "0")
        allowed = self.allowed_methods(path)
        if allowed is None:
            self.send_json_error(404, f"no such endpoint: {self.command} {path[:100]}", "path", "unknown")
        elif self.command not in allowed:
            self.send_json_error(405, f"method {self.command[:20]!r} not allowed on {path[:100]}", "method",
                                 f"{self.command[:20]!r} is not one of {', '.join(allowed)}",
                                 headers={"Allow": ", ".join(allowed)})
        else:
            getattr(self, "do_" + self.command)()

    def _timed_out(self) -> None:
        self.close_connection = True
        if self._answered or self._stage == "request line":
            return  # an idle keep-alive connection (or one that never sent a request): just close it
        timeout_s = self.connection.gettimeout()
        try:
            self.send_json_error(408, f"request timeout: the {self._stage} stalled", self._stage,
                                 f"nothing received for {timeout_s:g} s" if timeout_s else "stalled", close=True)
        except OSError:
            pass

    def handle_expect_100(self) -> bool:
        """Defer "100 Continue" until the size checks of ``read_body`` pass: a body we would refuse is
        then never sent at all."""
        self._expect_continue = True
        return True

    # -- the body -------------------------------------------------------------------------------------

    def answer_too_large(self, size_bytes: int) -> None:
        """The 413; subclasses may record it first."""
        self.send_json_error(413,
                             f"request body of {size_bytes} bytes exceeds the limit of {self.max_body_bytes} bytes",
                             "body", f"larger than {self.max_body_bytes} bytes", close=True)

    def _content_length(self) -> int | None:
        if self.headers.get("Transfer-Encoding") is not None:
            self.send_json_error(411, "Content-Length required", "Transfer-Encoding",
                                 "chunked bodies are not accepted: send Content-Length", close=True)
            return None
        values = self.headers.get_all("Content-Length") or []
        raw = str(values[0]).strip() if values else ""
        problem = None
        if not values:
            self.send_json_error(411, "Content-Length required", "Content-Length", "required", close=True)
            return None
        if len(values) > 1:
            problem = f"given {len(values)} times"
        elif not (raw.isascii() and raw.isdigit()):
            problem = f"not a byte count: {raw[:40]!r}"
        if problem is not None:
            self.send_json_error(400, "bad Content-Length", "Content-Length", problem, close=True)
            return None
        return int(raw) if len(raw) <= _MAX_LENGTH_DIGITS else 10**_MAX_LENGTH_DIGITS

    def read_body(self) -> bytes | None:
        """The request's body, or None when it was refused (the answer is already sent)."""
        length = self._content_length()
        if length is None:
            return None
        if length > self.max_body_bytes:
            self.answer_too_large(length)
            return None
        if self._expect_continue:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._stage = "body"
        chunks: list[bytes] = []
        received = 0
        while received < length:
            chunk = self.rfile.read1(min(_READ_CHUNK_BYTES, length - received))
            if not chunk:
                self.send_json_error(400, "request body cut short", "body",
                                     f"ended after {received} of {length} bytes", close=True)
                return None
            chunks.append(chunk)
            received += len(chunk)
        self._body_pending = False
        return b"".join(chunks)
