"""Running a model call under a deadline.

Two ways, picked per model by ``run_until``:

- **Inline** for models that offer ``predict_until(x, deadline_s)`` (the ONNX model and the wrappers
  around it): the call runs on the caller's thread, and one watchdog thread sets onnxruntime's
  ``RunOptions.terminate`` on any run still going at its deadline (onnxruntime checks the flag between
  graph nodes, so the overrun is at most one node's work). No thread hand-off per request: under load a
  hand-off to a worker and back costs more than the whole inference of a small model.
- **On a worker thread** for any other Model: the caller waits at most until the deadline and answers
  without the result; the call finishes in the background and is dropped. This bounds even a model
  that never returns.

Deadlines are ``time.monotonic()`` values.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reference_service.errors import InferenceTimeoutError
from reference_service.prediction import Model, Prediction

if TYPE_CHECKING:
    from numpy.typing import NDArray


_EXECUTOR_LOCK = threading.Lock()
_DEFAULT_EXECUTOR: ThreadPoolExecutor | None = None


def default_executor() -> ThreadPoolExecutor:
    global _DEFAULT_EXECUTOR
    with _EXECUTOR_LOCK:
        if _DEFAULT_EXECUTOR is None:
            _DEFAULT_EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="inference")
        return _DEFAULT_EXECUTOR


@dataclass(order=True, slots=True)
class _Watched:
    deadline_s: float
    seq: int
    run_options: Any = field(compare=False)
    done: bool = field(default=False, compare=False)


class Watchdog:
    """Terminates onnxruntime runs that outlive their deadline."""

    def __init__(self) -> None:
        self._heap: list[_Watched] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline_s: float, run_options: Any) -> _Watched:
        entry = _Watched(deadline_s, next(self._seq), run_options)
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="inference-watchdog", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:  # the watchdog sleeps until the earliest deadline: wake it for a new one
                self._cond.notify()
        return entry

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait_s = self._heap[0].deadline_s - time.monotonic()
                if wait_s > 0:
                    self._cond.wait(wait_s)
                    continue
                entry = heapq.heappop(self._heap)
                if not entry.done:
                    entry.run_options.terminate = True


WATCHDOG = Watchdog()


def remaining_s(deadline_s: float) -> float:
    return deadline_s - time.monotonic()


def run_until(model: Model, x: NDArray[Any], deadline_s: float, executor: Executor | None = None) -> Prediction:
    """``model``'s prediction for ``x`` by ``deadline_s``, else InferenceTimeoutError."""
    until = getattr(model, "predict_until", None)
    if until is not None:
        prediction: Prediction = until(x, deadline_s)
        return prediction
    budget_s = remaining_s(deadline_s)
    if budget_s <= 0:
        raise InferenceTimeoutError(0.0)
    future = (executor or default_executor()).submit(model.predict, x)
    try:
        return future.result(timeout=budget_s)
    except FutureTimeoutError as exc:
        future.cancel()
        raise InferenceTimeoutError(budget_s) from exc
