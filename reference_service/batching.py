"""Micro-batching: when several requests are in flight in one instance, their rows go to the model in
one call (the seed: "configure concurrency to batch multiple inference requests per instance").

A single worker thread takes the oldest waiting request, then keeps collecting until the batch holds
``max_rows`` rows, ``max_wait_ms`` has passed since that request arrived, or every request currently in
flight in the instance is already waiting (so a lone request never waits for company that cannot come).
Requests are never split: a request bigger than ``max_rows`` goes to the model on its own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_service.deadline import run_until
from reference_service.errors import InferenceTimeoutError
from reference_service.prediction import Model, Prediction


@dataclass(slots=True)
class _Waiting:
    x: NDArray[Any]
    future: Future[Prediction]
    arrived_s: float


class MicroBatcher:
    """A Model that batches concurrent ``predict`` calls into fewer calls of ``inner``."""

    def __init__(self, inner: Model, *, max_rows: int, max_wait_ms: float,
                 in_flight: Callable[[], int] = lambda: 1 << 30) -> None:
        self._inner = inner
        self._max_rows = max_rows
        self._max_wait_s = max_wait_ms / 1000
        self._in_flight = in_flight
        self._queue: deque[_Waiting] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.batches_run = 0  # for tests and benchmarks: model calls made
        self._worker = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._worker.start()

    @property
    def version(self) -> str:
        return self._inner.version

    def _submit(self, x: NDArray[Any]) -> Future[Prediction]:
        future: Future[Prediction] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("micro-batcher is closed")
            self._queue.append(_Waiting(x, future, time.monotonic()))
            self._cond.notify_all()
        return future

    def predict(self, x: NDArray[Any]) -> Prediction:
        if x.shape[0] >= self._max_rows:
            return self._inner.predict(x)
        return self._submit(x).result()

    def predict_until(self, x: NDArray[Any], deadline_s: float) -> Prediction:
        """Waits for its share of a batch until ``deadline_s``; the batch itself may finish later."""
        if x.shape[0] >= self._max_rows:
            return run_until(self._inner, x, deadline_s)
        future = self._submit(x)
        try:
            return future.result(timeout=max(0.0, deadline_s - time.monotonic()))
        except FutureTimeoutError as exc:
            future.cancel()
            raise InferenceTimeoutError(max(0.0, deadline_s - time.monotonic())) from exc

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout=5)

    def _collect(self) -> list[_Waiting] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            deadline = self._queue[0].arrived_s + self._max_wait_s
            while True:
                rows = sum(w.x.shape[0] for w in self._queue)
                remaining = deadline - time.monotonic()
                if rows >= self._max_rows or remaining <= 0 or len(self._queue) >= self._in_flight() or self._closed:
                    break
                self._cond.wait(remaining)
            batch: list[_Waiting] = []
            taken = 0
            while self._queue and (not batch or taken + self._queue[0].x.shape[0] <= self._max_rows):
                item = self._queue.popleft()
                batch.append(item)
                taken += item.x.shape[0]
            return batch

    def _run(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                return
            live = [w for w in batch if w.future.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                self.batches_run += 1
                prediction = self._inner.predict(np.concatenate([w.x for w in live]) if len(live) > 1 else live[0].x)
            except BaseException as exc:  # noqa: BLE001 - every waiter gets the same failure as its own
                for w in live:
                    w.future.set_exception(exc)
                continue
            start = 0
            for w in live:
                stop = start + w.x.shape[0]
                w.future.set_result(prediction.rows(start, stop))
                start = stop
