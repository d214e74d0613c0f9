"""A hostile HTTP/1.1 mix over raw sockets, shared by the tests of the Cloud Run server and the emulator's
front door.

Each request opens its own connection (``keepalive`` sends several on one) and records what a client
saw: a complete HTTP response, or why it did not get one (``reset``, ``eof``, ``timeout``, ``send``:
the connection failed while the request was still being sent). Raw sockets, not http.client: the point
is to send what a well-behaved client never would (a whole oversized body before reading, headers
beyond the limits, lying lengths, garbage request lines) and to see exactly what came back.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

CLIENT_TIMEOUT_S = 40.0  # longer than any server under test waits for a stalled request (30 s)


class NoAnswerError(Exception):
    """The connection ended (or stalled) before a complete HTTP response arrived."""

    def __init__(self, failure: str) -> None:
        super().__init__(failure)
        self.failure = failure


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class Target:
    """Where the mix is sent and what that server promises."""

    port: int
    predict_path: str  # the POST endpoint taking {"instances": [...]}
    max_body_bytes: int  # bodies above this get a 413
    good_body: bytes  # a valid request body
    other_paths: tuple[str, ...] = ()  # further POST endpoints (answered 4xx for the bodies sent here)
    allow_429: bool = False  # the target may refuse work when saturated (a JSON 429 with Retry-After)


@dataclass
class Outcome:
    kind: str
    failure: str | None = None  # None: a complete response; else why not
    responses: list[Response] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # complete responses that broke the contract
    elapsed_s: float = 0.0  # connect to last response (or failure)


def _recv(sock: socket.socket, buf: bytearray) -> None:
    try:
        chunk = sock.recv(65536)
    except ConnectionResetError as exc:
        raise NoAnswerError("reset") from exc
    except TimeoutError as exc:
        raise NoAnswerError("timeout") from exc
    if not chunk:
        raise NoAnswerError("eof")
    buf += chunk


def read_response(sock: socket.socket, buf: bytearray, *, final: bool = True) -> Response:
    """One response off ``sock`` (``buf`` keeps bytes already received); interim 1xx skipped if ``final``."""
    while True:
        while b"\r\n\r\n" not in buf:
            _recv(sock, buf)
        end = buf.index(b"\r\n\r\n")
        head = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[: end + 4]
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise NoAnswerError(f"bad status line {head[0][:60]!r}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
        status = int(parts[1])
        if 100 <= status < 200:
            if final:
                continue
            return Response(status, headers, b"")
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            raise NoAnswerError("response without Content-Length")
        while len(buf) < int(length):
            _recv(sock, buf)
        body = bytes(buf[: int(length)])
        del buf[: int(length)]
        return Response(status, headers, body)


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise NoAnswerError("send") from exc
    except TimeoutError as exc:
        raise NoAnswerError("send-timeout") from exc


def post_head(path: str, length: int | str | None, extra: Sequence[str] = ()) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: hostile", "Content-Type: application/json", *extra]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- the kinds of request: each sends on a fresh connection and returns the responses it read -------------

Send = Callable[[socket.socket, bytearray, Target, random.Random], list[Response]]


def _one(sock: socket.socket, buf: bytearray, data: bytes) -> list[Response]:
    _send(sock, data)
    return [read_response(sock, buf)]


def valid(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    return _one(sock, buf, post_head(t.predict_path, len(t.good_body)) + t.good_body)


def keepalive(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    out = []
    for _ in range(rng.randint(2, 5)):
        out += _one(sock, buf, post_head(t.predict_path, len(t.good_body)) + t.good_body)
        if out[-1].headers.get("connection", "").lower() == "close":
            break
    return out


def invalid_json(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    body = rng.choice([b"{", b"not json", b'{"instances": [[1, 2,]]}', b"\xff\xfe", b"[" * 3000, b"null",
                       b'{"instances": "x"}', b'{"rows": []}', t.good_body[: len(t.good_body) // 2]])
    path = rng.choice((t.predict_path, *t.other_paths))
    return _one(sock, buf, post_head(path, len(body)) + body)


WRONG_METHODS = ("PUT", "DELETE", "PATCH", "OPTIONS", "GET", "TRACE", "BREW", "CONNECT")


def wrong_method(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    method = rng.choice(WRONG_METHODS)
    body = t.good_body if rng.random() < 0.5 else b""
    path = rng.choice((t.predict_path, *t.other_paths))
    head = f"{method} {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\n\r\n"
    return _one(sock, buf, head.encode() + body)


def big_header(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    extra = [f"X-Big: {'a' * rng.randint(66_000, 90_000)}"]
    return _one(sock, buf, post_head(t.predict_path, len(t.good_body), extra) + t.good_body)


def many_headers(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    extra = [f"X-H{i}: {i}" for i in range(rng.randint(101, 400))]
    return _one(sock, buf, post_head(t.predict_path, len(t.good_body), extra) + t.good_body)


def oversize_eager(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    """The whole body is sent before anything is read (what most clients do)."""
    size = rng.randint(t.max_body_bytes + 1, 3 * t.max_body_bytes)
    return _one(sock, buf, post_head(t.predict_path, size) + b" " * size)


def oversize_announced(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    """A huge length announced, only its head sent: the answer must not wait for the rest."""
    size = rng.choice([str(rng.randint(t.max_body_bytes + 1, 10**9)), "9" * 5000])  # int() refuses 5000 digits
    return _one(sock, buf, post_head(t.predict_path, size) + b"{" * 100)


def expect_continue(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    """Expect: 100-continue: an oversized body is refused before it is sent, a good one is answered."""
    big = rng.random() < 0.5
    size = t.max_body_bytes + 1 if big else len(t.good_body)
    _send(sock, post_head(t.predict_path, size, ["Expect: 100-continue"]))
    first = read_response(sock, buf, final=False)
    if first.status != 100:
        return [first]
    _send(sock, b" " * size if big else t.good_body)
    return [read_response(sock, buf)]


def length_short(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    """Content-Length says more than is ever sent: the server must answer when it stops waiting."""
    body = t.good_body[: rng.randint(0, len(t.good_body) - 1)]
    return _one(sock, buf, post_head(t.predict_path, len(t.good_body)) + body)


def stall_headers(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    """The headers never end: the server must answer when it stops waiting."""
    return _one(sock, buf, f"POST {t.predict_path} HTTP/1.1\r\nHost: h\r\nX-Slow: ".encode())


def length_long(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    """More body than Content-Length says: the first response is for the truncated body."""
    cut = rng.randint(1, len(t.good_body) - 1)
    return _one(sock, buf, post_head(t.predict_path, cut) + t.good_body)


BAD_LENGTHS = ("abc", "-1", "1e3", " ", "0x10", "\xb2", "\xb9", "+5", "1_0", "5, 7")


def length_bad(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    if rng.random() < 0.3:
        extra = [f"Content-Length: {len(t.good_body)}", f"Content-Length: {len(t.good_body) + 5}"]
    else:
        extra = [f"Content-Length: {rng.choice(BAD_LENGTHS)}"]
    return _one(sock, buf, post_head(t.predict_path, None, extra) + t.good_body)


def no_length(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    return _one(sock, buf, post_head(t.predict_path, None))


def chunked(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(t.good_body), t.good_body)
    return _one(sock, buf, post_head(t.predict_path, None, ["Transfer-Encoding: chunked"]) + body)


def slow(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    """A valid request trickled in pieces, well within the server's timeout."""
    data = post_head(t.predict_path, len(t.good_body)) + t.good_body
    cuts = sorted(rng.sample(range(1, len(data)), 4))
    for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
        _send(sock, data[a:b])
        time.sleep(0.02)
    return [read_response(sock, buf)]


GARBAGE_LINES = (b"\x00\x01\x02 garbage\r\n\r\n", b"HELLO\r\n\r\n", b"POST /predict\r\n\r\n",
                 b"POST /predict HTTP/9.9\r\n\r\n", b"POST /predict HTTP/2.0\r\n\r\n", b"POST /predict FTP/1.1\r\n\r\n",
                 b"   \r\n\r\n", b"\r\n" * 20, b"GET / HTTP/1.1 extra\r\n\r\n", b"\xff\xfe\xfd\r\n\r\n",
                 b"POST " + b"/x" * 40_000 + b" HTTP/1.1\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")


def garbage(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    return _one(sock, buf, rng.choice(GARBAGE_LINES))


def unknown_path(sock: socket.socket, buf: bytearray, t: Target, rng: random.Random) -> list[Response]:
    return _one(sock, buf, post_head("/nope/" + "x" * rng.randint(0, 50), len(t.good_body)) + t.good_body)


# kind -> (sender, weight, the statuses allowed, the field a 4xx must name or None for any)
KINDS: dict[str, tuple[Send, int, frozenset[int], str | None]] = {
    "valid": (valid, 30, frozenset({200}), None),
    "keepalive": (keepalive, 6, frozenset({200}), None),
    "invalid_json": (invalid_json, 12, frozenset({400}), None),
    "wrong_method": (wrong_method, 8, frozenset({405}), "method"),
    "big_header": (big_header, 4, frozenset({431}), "headers"),
    "many_headers": (many_headers, 4, frozenset({431}), "headers"),
    "oversize_eager": (oversize_eager, 5, frozenset({413}), "body"),
    "oversize_announced": (oversize_announced, 4, frozenset({413}), "body"),
    "expect_continue": (expect_continue, 4, frozenset({200, 413}), None),
    "length_short": (length_short, 2, frozenset({408}), "body"),
    "stall_headers": (stall_headers, 1, frozenset({408}), "headers"),
    "length_long": (length_long, 4, frozenset({400}), None),
    "length_bad": (length_bad, 4, frozenset({400}), "Content-Length"),
    "no_length": (no_length, 3, frozenset({411}), "Content-Length"),
    "chunked": (chunked, 3, frozenset({411}), "Transfer-Encoding"),
    "slow": (slow, 3, frozenset({200}), None),
    "garbage": (garbage, 6, frozenset({400, 414}), None),
    "unknown_path": (unknown_path, 4, frozenset({404}), "path"),
}


def check_response(kind: str, response: Response, target: Target) -> list[str]:
    """What is wrong with one complete response (empty: it keeps the contract)."""
    _, _, allowed, field_name = KINDS[kind]
    if response.status == 429 and target.allow_429 and "retry-after" in response.headers:
        allowed = allowed | {429}
    problems = [] if response.status in allowed else [f"status {response.status}, expected {sorted(allowed)}"]
    if response.status >= 500:
        problems.append(f"5xx for a client's request: {response.body[:200]!r}")
    if not response.headers.get("content-type", "").startswith("application/json"):
        problems.append(f"not JSON: {response.headers.get('content-type')} {response.body[:80]!r}")
        return problems
    try:
        doc: Any = json.loads(response.body)
    except ValueError:
        return [*problems, f"body is not valid JSON: {response.body[:80]!r}"]
    if 400 <= response.status < 500:
        fields = doc.get("fields") if isinstance(doc, dict) else None
        if not (isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"]):
            problems.append(f"4xx without an error message: {doc!r:.200}")
        if not fields or not all(isinstance(f, dict) and f.get("field") and f.get("problem") for f in fields):
            problems.append(f"4xx not naming a field: {doc!r:.200}")
        elif field_name is not None and fields[0]["field"] != field_name:
            problems.append(f"names {fields[0]['field']!r}, expected {field_name!r}")
        if response.status == 405 and "allow" not in response.headers:
            problems.append("405 without Allow")
    return problems


def run_one(kind: str, target: Target, seed: int) -> Outcome:
    sender = KINDS[kind][0]
    outcome = Outcome(kind)
    buf = bytearray()
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", target.port), timeout=CLIENT_TIMEOUT_S) as sock:
            outcome.responses = sender(sock, buf, target, random.Random(seed))
    except NoAnswerError as exc:
        outcome.failure = exc.failure
    except OSError as exc:  # connect refused or reset: no answer either
        outcome.failure = f"connect: {exc.__class__.__name__}"
    outcome.elapsed_s = time.monotonic() - t0
    for response in outcome.responses:
        outcome.problems += check_response(kind, response, target)
    return outcome


@dataclass(frozen=True, slots=True)
class MixReport:
    outcomes: tuple[Outcome, ...]
    elapsed_s: float

    @property
    def no_answer(self) -> Counter[tuple[str, str]]:
        return Counter((o.kind, o.failure) for o in self.outcomes if o.failure is not None)

    @property
    def problems(self) -> list[str]:
        return [f"{o.kind}: {p}" for o in self.outcomes for p in o.problems]

    @property
    def slowest_s(self) -> float:
        return max((o.elapsed_s for o in self.outcomes), default=0.0)

    @property
    def statuses(self) -> Counter[int]:
        return Counter(r.status for o in self.outcomes for r in o.responses)

    def summary(self) -> str:
        return (f"{len(self.outcomes)} requests in {self.elapsed_s:.1f} s (slowest {self.slowest_s:.1f} s); "
                f"no answer: {dict(self.no_answer)}; "
                f"statuses {dict(sorted(self.statuses.items()))}; {len(self.problems)} contract problems, "
                f"first: {self.problems[:5]}")


def run_mix(target: Target, count: int, *, connections: int = 32, seed: int = 14,
            kinds: Sequence[str] | None = None) -> MixReport:
    """``count`` requests drawn by the kinds' weights, sent over ``connections`` concurrent clients."""
    names = list(kinds or KINDS)
    rng = random.Random(seed)
    plan = rng.choices(names, weights=[KINDS[k][1] for k in names], k=count)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=connections) as pool:
        outcomes = tuple(pool.map(lambda job: run_one(job[1], target, seed * 1_000_003 + job[0]), enumerate(plan)))
    return MixReport(outcomes, time.monotonic() - t0)
