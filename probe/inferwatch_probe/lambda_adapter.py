"""AWS Lambda: ``@probe.lambda_handler`` around ``handler(event, context)``.

From the context object: the request id, the function and qualifier (``invoked_function_arn``, so a line
names the function it came from without naming rules), the configured memory, and the deadline. A
handler still running when the remaining time falls under the probe's margin is counted as a timeout at
that moment, and in window mode the window is written at once: Lambda kills the environment on a timeout,
and the line would otherwise be lost with it (an invocation that answers within the margin after that is
still counted as a timeout). A returned ``{"statusCode": ...}`` is read as an HTTP answer;
``probe.ClientError`` becomes ``{"statusCode": 4xx, "body": "{\\"error\\": ...}"}``.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from inferwatch_probe.errors import ClientError
from inferwatch_probe.measure import CURRENT, Health, Invocation

F = TypeVar("F", bound=Callable[..., Any])
_POLL_S = 0.25


class LambdaTimeout(TimeoutError):
    """The remaining time ran under the probe's margin before the handler returned."""


class LambdaMeter(Protocol):
    health: Health
    timeout_margin_ms: float

    def begin(self, request_id: str | None) -> Invocation | None: ...

    def finish(self, inv: Invocation | None, exc: BaseException | None) -> None: ...

    def flush(self, reason: str = "manual") -> None: ...

    def note_memory_mb(self, memory_mb: int) -> None: ...


@functools.lru_cache(maxsize=64)
def lambda_target(arn: str) -> tuple[str, str] | None:
    """(``aws:<region>:<function name>``, qualifier) from ``arn:aws:lambda:<region>:<account>:function:
    <name>[:<alias or version>]``; an unqualified ARN runs ``$LATEST``."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
        return None
    return f"aws:{parts[3]}:{parts[6]}", parts[7] if len(parts) > 7 and parts[7] else "$LATEST"


class DeadlineWatch:
    """One daemon thread that ends invocations whose deadline passes before they return."""

    def __init__(self, meter: LambdaMeter) -> None:
        self._meter = meter
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, Invocation]] = {}
        self._thread: threading.Thread | None = None

    def arm(self, inv: Invocation, deadline_s: float) -> None:
        with self._cond:
            self._armed[id(inv)] = (deadline_s, inv)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="inferwatch-probe-deadline", daemon=True)
                self._thread.start()
            elif deadline_s - time.monotonic() < _POLL_S:  # sooner than the thread's next look
                self._cond.notify()

    def disarm(self, inv: Invocation) -> None:
        with self._cond:
            self._armed.pop(id(inv), None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [inv for deadline, inv in self._armed.values() if deadline <= now]
                for inv in due:
                    del self._armed[id(inv)]
                if not due:
                    soonest = min((d for d, _ in self._armed.values()), default=now + _POLL_S)
                    self._cond.wait(min(max(soonest - now, 0.0), _POLL_S))
                    continue
            for inv in due:
                self._meter.finish(inv, LambdaTimeout("the remaining time ran under the probe's margin"))
            self._meter.flush("timeout")


def client_error_answer(exc: ClientError) -> dict[str, Any]:
    return {"statusCode": exc.status_code, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"error": str(exc)})}


def _read_context(meter: LambdaMeter, inv: Invocation, context: Any, watch: DeadlineWatch) -> None:
    arn = getattr(context, "invoked_function_arn", None)
    if isinstance(arn, str):
        inv.lambda_target = lambda_target(arn)
    memory = getattr(context, "memory_limit_in_mb", None)
    if memory is not None:
        meter.note_memory_mb(int(memory))
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is not None:
        left_ms = float(remaining())
        margin_ms = min(meter.timeout_margin_ms, 0.1 * left_ms)
        watch.arm(inv, time.monotonic() + (left_ms - margin_ms) / 1000)


def _read_answer(inv: Invocation, answer: Any, context: Any) -> BaseException | None:
    """Status from a returned HTTP-style answer; a LambdaTimeout if no time was left to deliver it."""
    if isinstance(answer, Mapping) and isinstance(answer.get("statusCode"), int | str):
        headers = answer.get("headers")
        inv.answer(int(answer["statusCode"]), headers if isinstance(headers, Mapping) else None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is not None and remaining() <= 0:
        return LambdaTimeout("the handler returned after its deadline")
    return None


def wrap_lambda(meter: LambdaMeter, fn: F) -> F:
    watch = DeadlineWatch(meter)

    @functools.wraps(fn)
    def handler(event: Any, context: Any) -> Any:
        inv = meter.begin(getattr(context, "aws_request_id", None))
        if inv is not None:
            try:
                _read_context(meter, inv, context, watch)
            except Exception as exc:  # noqa: BLE001 - a context we do not understand: measure anyway
                meter.health.fail("reading the Lambda context", exc)
        token = CURRENT.set(inv)
        failure: BaseException | None = None
        try:
            answer = fn(event, context)
        except ClientError as exc:
            answer, failure = client_error_answer(exc), exc
        except BaseException as exc:
            _end(meter, watch, inv, exc)
            raise
        else:
            if inv is not None:
                try:
                    failure = _read_answer(inv, answer, context)
                except Exception as exc:  # noqa: BLE001 - an answer we do not understand: still measured
                    meter.health.fail("reading the Lambda answer", exc)
        finally:
            CURRENT.reset(token)
        _end(meter, watch, inv, failure)
        return answer

    return handler  # type: ignore[return-value]


def _end(meter: LambdaMeter, watch: DeadlineWatch, inv: Invocation | None, exc: BaseException | None) -> None:
    if inv is not None:
        watch.disarm(inv)
        meter.finish(inv, exc)
