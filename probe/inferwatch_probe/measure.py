"""The measurement core, the same for every adapter: one :class:`Invocation` per call of the handler,
cold start and init of the instance, the status rules, and the probe's own health.

Status rules (the first that applies): an exception -> ``client_error`` for :class:`ClientError` (and a
cancelled request: the caller went away), ``timeout`` for ``TimeoutError``, else ``error``; then the
answer's HTTP status -> ``client_error`` for 4xx, ``error`` for 5xx; then a timeout mark (``timed_out()``:
a fallback answered because the deadline ran out) -> ``timeout``; then a degraded mark (``degraded()`` or
the answer header ``X-Inferwatch-Status: degraded``) -> ``degraded``; else ``ok``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

import numpy as np
from numpy.typing import NDArray

from inferwatch_probe.errors import ClientError
from inferwatch_probe.inputs import FeatureBatch, batch_from_columns, batch_from_matrix, column_names
from inferwatch_probe.outputs import Labels, Prediction, as_floats, as_labels
from inferwatch_probe.process import process_start_wall_s

DEGRADED_HEADER = "x-inferwatch-status"
MAX_TEXT_CHARS = 128  # error types and degraded reasons


class Health:
    """The probe's own failures: one warning per kind on stderr, every one counted (the lines carry the
    count), never raised into the handler."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.errors = 0
        self.dropped_lines = 0
        self._reported = 0
        self._warned: set[str] = set()
        self._stream = stream
        self._lock = threading.Lock()

    def fail(self, where: str, problem: BaseException | str) -> None:
        with self._lock:
            self.errors += 1
            first = where not in self._warned
            self._warned.add(where)
        if first:
            what = f"{type(problem).__name__}: {problem}" if isinstance(problem, BaseException) else problem
            try:
                print(f"inferwatch_probe: {where} failed ({what}); the handler is unaffected, and further "
                      f"failures of this kind are only counted", file=self._stream or sys.stderr, flush=True)
            except Exception:  # noqa: BLE001, S110 - stderr itself is broken: counting is all that is left
                pass

    def unreported(self) -> int:
        """Failures not yet reported in a written line (what the next line reports)."""
        with self._lock:
            return self.errors - self._reported

    def reported(self, count: int) -> None:
        """A line reporting ``count`` failures was written."""
        with self._lock:
            self._reported += count


@dataclass
class InitInfo:
    """How this instance's init went; reported once, with its first invocation."""

    cold: bool
    init_type: str  # on-demand | provisioned-concurrency | snap-start (Lambda), process elsewhere
    init_ms: float  # process start -> first invocation; 0 when the caller did not wait for init
    process_to_import_ms: float | None  # process start -> the probe's import (None: start unknown)
    load_ms: float  # model loads and sessions created through the probe, and probe.timed("load")
    steps_ms: dict[str, float] = field(default_factory=dict)  # other probe.timed(step) blocks
    ready_ms: float | None = None  # process start -> end of the last measured init step
    first_inference_ms: float | None = None  # the first session.run (part of the first invocation)

    @property
    def other_ms(self) -> float:
        measured = (self.process_to_import_ms or 0.0) + self.load_ms + sum(self.steps_ms.values())
        return max(self.init_ms - measured, 0.0)


class InstanceState:
    """Per process: the cold start, the init steps, the first inference. A forked child starts afresh."""

    def __init__(self, init_type: str, import_wall_s: float) -> None:
        self._init_type = init_type
        self._import_wall_s = import_wall_s
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.pid = os.getpid()
        started = process_start_wall_s()
        self._start_wall_s = started if started is not None else self._import_wall_s
        self._start_known = started is not None and started <= self._import_wall_s
        self._cold = True
        self._load_ms = 0.0
        self._steps_ms: dict[str, float] = {}
        self._last_step_wall_s = self._import_wall_s
        self._ready_wall_s: float | None = None
        self.first_inference_ms: float | None = None
        self._init: InitInfo | None = None

    def add_step(self, step: str, ms: float) -> None:
        """A measured init step (model load, session creation, anything timed); after the first
        invocation they are no longer init."""
        with self._lock:
            if os.getpid() != self.pid:
                self._reset()
            if not self._cold:
                return
            if step == "load":
                self._load_ms += ms
            else:
                self._steps_ms[step] = self._steps_ms.get(step, 0.0) + ms
            self._last_step_wall_s = time.time()

    def mark_ready(self, wall_s: float) -> None:
        """The instance finished its init and waits for requests (a server that listens before its first
        request): its init ends here, not when the first request happens to arrive."""
        with self._lock:
            if os.getpid() != self.pid:
                self._reset()
            if self._cold and self._ready_wall_s is None:
                self._ready_wall_s = wall_s

    def note_inference(self, ms: float) -> None:
        if self.first_inference_ms is None:
            self.first_inference_ms = ms
            if self._init is not None:
                self._init.first_inference_ms = ms

    def take_cold_start(self, now_wall_s: float) -> InitInfo | None:
        """The init of this instance on its first invocation, else None."""
        if not self._cold and os.getpid() == self.pid:
            return None
        with self._lock:
            if os.getpid() != self.pid:  # a forked child: its init runs from the fork
                self._reset()
            if not self._cold:
                return None
            self._cold = False
            # on provisioned concurrency (and an instance started ahead of traffic) the caller never waited
            # for init, and a SnapStart restore began long after this process started: none has an init
            # the invocation paid for
            cold = self._init_type not in ("provisioned-concurrency", "snap-start", "prewarmed")
            start = self._start_wall_s
            if self._ready_wall_s is not None:
                now_wall_s = min(now_wall_s, self._ready_wall_s)
            self._init = InitInfo(
                cold=cold or self._init_type == "snap-start", init_type=self._init_type,
                init_ms=round((now_wall_s - start) * 1000, 3) if cold else 0.0,
                process_to_import_ms=round(max(self._import_wall_s - start, 0.0) * 1000,
                                           3) if self._start_known else None,
                load_ms=round(self._load_ms, 3), steps_ms={k: round(v, 3) for k, v in self._steps_ms.items()},
                ready_ms=round(max(self._last_step_wall_s - start, 0.0) * 1000, 3),
                first_inference_ms=self.first_inference_ms)
            return self._init


@dataclass(frozen=True, slots=True)
class ShadowOutcome:
    """A shadow model's result for one invocation (see :meth:`Invocation.shadow`)."""

    version: str
    status: str  # ok | error | timeout | skipped
    scores: NDArray[np.float64] | None = None
    labels: Labels | None = None
    agree: float | None = None
    latency_ms: float | None = None


class Owner(Protocol):
    """What an invocation needs from its probe."""

    task: str
    health: Health
    feature_names: tuple[str, ...] | None


CURRENT: ContextVar[Invocation | None] = ContextVar("inferwatch_probe_invocation", default=None)


class Invocation:
    """One call of the handler. Use ``degraded()``, ``record()`` and ``answer()`` inside it."""

    __slots__ = (
        "answer_error_type",
        "concurrency",
        "degraded_reason",
        "done",
        "error_type",
        "inference_ms",
        "init",
        "lambda_target",
        "latency_ms",
        "owner",
        "predictions",
        "request_id",
        "shadow_outcome",
        "started_s",
        "status",
        "status_code",
        "timeout_reason",
        "timestamp_ms",
    )

    def __init__(self, owner: Owner, request_id: str | None, started_s: float, concurrency: int) -> None:
        self.owner = owner
        self.request_id = request_id
        self.started_s = started_s
        self.timestamp_ms = 0
        self.status = "ok"
        self.error_type: str | None = None
        self.status_code: int | None = None
        self.degraded_reason: str | None = None
        self.timeout_reason: str | None = None
        self.answer_error_type: str | None = None
        self.shadow_outcome: ShadowOutcome | None = None
        self.predictions: list[Prediction] = []
        self.inference_ms = 0.0
        self.latency_ms = 0.0
        self.init: InitInfo | None = None
        self.concurrency = concurrency
        self.lambda_target: tuple[str, str] | None = None  # (function id, qualifier) on Lambda
        self.done = False

    def degraded(self, reason: str = "Degraded") -> None:
        """The answer is a fallback (a default score, a cached or partial answer): status ``degraded``."""
        self.degraded_reason = str(reason)[:MAX_TEXT_CHARS] or "Degraded"

    def timed_out(self, reason: str = "Timeout") -> None:
        """The answer is a fallback given because the deadline ran out (no exception): status ``timeout``."""
        self.timeout_reason = str(reason)[:MAX_TEXT_CHARS] or "Timeout"

    def shadow(self, version: str, status: str, *, scores: Any = None, classes: Any = None,
               agree: float | None = None, latency_ms: float | None = None) -> None:
        """What a shadow model (another version scoring the same request off the answer path) said:
        ``status`` ok, error, timeout or skipped; its ``scores`` per the task and ``classes``; ``agree``, the
        share of rows on which its class equals the served one. Invocation lines carry it (``Shadow*``)."""
        try:
            self.shadow_outcome = ShadowOutcome(
                str(version), str(status), None if scores is None else as_floats(scores),
                None if classes is None else as_labels(classes), None if agree is None else float(agree),
                None if latency_ms is None else float(latency_ms))
        except Exception as exc:  # noqa: BLE001 - the probe never fails the handler
            self.owner.health.fail("shadow", exc)

    def answer(self, status_code: int, headers: Mapping[str, str] | Iterable[tuple[Any, Any]] | None = None,
               *, error_type: str | None = None) -> None:
        """The HTTP answer: 4xx counts as ``client_error``, 5xx as ``error`` (``error_type`` names why, else
        ``HTTP<code>``); a header ``X-Inferwatch-Status: degraded`` marks it degraded."""
        self.status_code = int(status_code)
        if error_type is not None:
            self.answer_error_type = str(error_type)[:MAX_TEXT_CHARS]
        if headers is None:
            return
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        for key, value in pairs:
            k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
            if k.lower() == DEGRADED_HEADER:
                v = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                if v.strip().lower() == "degraded":
                    self.degraded()

    def record(self, *, inputs: Any = None, scores: Any = None, classes: Any = None, values: Any = None,
               feature_names: Any = None) -> None:
        """Record a prediction made without a probed session. ``inputs``: a 2-D array (columns named by
        ``feature_names``) or a mapping of name -> column; ``scores``: per the task (binary: the positive
        class's probability; multiclass: the top class's); ``classes``: predicted labels; ``values``:
        regression outputs. Problems are reported on stderr and counted, never raised."""
        try:
            self.predictions.append(_explicit_prediction(self.owner, inputs, scores, classes, values, feature_names))
        except Exception as exc:  # noqa: BLE001 - the probe never fails the handler
            self.owner.health.fail("record", exc)

    def finish(self, exc: BaseException | None, now_s: float) -> None:
        self.latency_ms = round((now_s - self.started_s) * 1000, 3)
        self.timestamp_ms = int(time.time() * 1000)
        self.status, self.error_type = resolve_status(exc, self.status_code, self.degraded_reason,
                                                      self.timeout_reason, self.answer_error_type)


def resolve_status(exc: BaseException | None, status_code: int | None, degraded_reason: str | None,
                   timeout_reason: str | None = None, answer_error_type: str | None = None) -> tuple[str, str | None]:
    if exc is not None:
        name = type(exc).__name__[:MAX_TEXT_CHARS]
        aio = sys.modules.get("asyncio")  # not imported here: it costs 10 ms of import time
        if isinstance(exc, ClientError) or (aio is not None and isinstance(exc, aio.CancelledError)):
            return "client_error", name
        if isinstance(exc, TimeoutError):
            return "timeout", name
        return "error", name
    if status_code is not None and 400 <= status_code <= 499:
        return "client_error", answer_error_type or f"HTTP{status_code}"
    if status_code is not None and status_code >= 500:
        return "error", answer_error_type or f"HTTP{status_code}"
    if timeout_reason is not None:
        return "timeout", timeout_reason
    if degraded_reason is not None:
        return "degraded", degraded_reason
    return "ok", None


def _explicit_prediction(owner: Owner, inputs: Any, scores: Any, classes: Any, values: Any,
                         feature_names: Any) -> Prediction:
    p = Prediction(rows=0)
    if scores is not None:
        p.scores = as_floats(scores)
    if classes is not None:
        p.labels = as_labels(classes)
    if values is not None:
        p.values = as_floats(values)
    if inputs is not None:
        p.features = _features(inputs, feature_names, owner.feature_names)
    sizes = {len(x) for x in (p.scores, p.labels, p.values) if x is not None}
    if p.features is not None:
        sizes.add(p.features.rows)
    if len(sizes) > 1:
        raise ValueError(f"inputs and outputs have different row counts: {sorted(sizes)}")
    p.rows = sizes.pop() if sizes else 0
    return p


def _features(inputs: Any, feature_names: Any, default_names: tuple[str, ...] | None) -> FeatureBatch:
    if isinstance(inputs, Mapping):
        return batch_from_columns(inputs)
    arr = np.asarray(inputs)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)  # one row
    names = tuple(feature_names) if feature_names is not None else default_names
    return batch_from_matrix(arr, column_names("f", arr.shape[1], names))
