"""Shadow scoring: version A answers, version B scores the same input on its own threads.

B starts when A starts (so it rarely delays anything) and A's answer never depends on B: B's result is
only waited for, after A has its answer, for at most ``wait_s`` so both predictions can go into the same
telemetry line. If B is slower, the line says ``ShadowStatus: timeout``; if B raises, ``error``; if too
many B calls are still running (B is stuck), new ones are ``skipped`` so B cannot pile up work.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_service.prediction import Model, Prediction


@dataclass(frozen=True, slots=True)
class _Timed:
    prediction: Prediction
    latency_ms: float


@dataclass(frozen=True, slots=True)
class ShadowOutcome:
    """What B said for one request: its prediction when it answered in time, and how often its class
    agreed with A's (when A served a model answer)."""

    version: str
    status: str  # ok | error | timeout | skipped
    prediction: Prediction | None = None
    agree: float | None = None  # share of rows where the shadow's class equals the served one
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class ShadowRun:
    future: Future[_Timed] | None  # None: skipped


class ShadowScorer:
    def __init__(self, model: Model, *, workers: int = 2, max_pending: int = 4) -> None:
        self.model = model
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shadow")
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return self.model.version

    def _score(self, x: NDArray[Any]) -> _Timed:
        t0 = time.perf_counter()
        try:
            return _Timed(self.model.predict(x), round((time.perf_counter() - t0) * 1000, 3))
        finally:
            with self._lock:
                self._pending -= 1

    def start(self, x: NDArray[Any]) -> ShadowRun:
        with self._lock:
            if self._pending >= self._max_pending:
                return ShadowRun(None)
            self._pending += 1
        return ShadowRun(self._executor.submit(self._score, x))

    def finish(self, run: ShadowRun, served: Prediction | None, wait_s: float) -> ShadowOutcome:
        """What B said, waiting at most ``wait_s``; compared with what A served when A served a model answer."""
        if run.future is None:
            return ShadowOutcome(self.version, "skipped")
        try:
            timed = run.future.result(timeout=max(wait_s, 0.0))
        except FutureTimeoutError:
            return ShadowOutcome(self.version, "timeout")
        except Exception:  # noqa: BLE001 - B's failure is recorded, never raised: it must not touch A's answer
            return ShadowOutcome(self.version, "error")
        pred = timed.prediction
        agree = None
        if (served is not None and served.labels is not None and pred.labels is not None
                and len(served.labels) == len(pred.labels) and len(pred.labels)):
            agree = round(float(np.mean(served.labels == pred.labels)), 6)
        return ShadowOutcome(self.version, "ok", pred, agree, timed.latency_ms)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
