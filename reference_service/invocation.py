"""One invocation, the same for every adapter: size check, validation, prediction under a deadline,
shadow, answer, and exactly one telemetry line. Adapters translate their event shapes to ``invoke``
and the returned ``Reply`` back; they hold no logic of their own."""

from __future__ import annotations

import os
import resource
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from reference_service.batching import MicroBatcher
from reference_service.core import (
    Fallback,
    PredictionResult,
    answer_body,
    error_body,
    parse_request,
    predict_with_deadline,
)
from reference_service.errors import InvalidInputError, PayloadTooLargeError
from reference_service.model import PACKAGED_MODEL_DIR, FaultInjectingModel, LazyModel, ModelCard, onnx_loader
from reference_service.prediction import Model, Prediction
from reference_service.settings import ServiceSettings
from reference_service.shadow import ShadowScorer
from reference_service.telemetry import (
    InvocationRecord,
    ShadowOutcome,
    TelemetrySink,
    capped_classes,
    capped_scores,
    decimal_scales,
    summarize_inputs,
)


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    body: dict[str, Any]
    record: InvocationRecord
    failure: BaseException | None = None  # set for real failures: Lambda re-raises it (retry, then DLQ)


def max_memory_used_mb() -> float:
    """Peak RSS of this process in MB.

    Linux's ``VmHWM`` first: ``ru_maxrss`` survives ``execve``, so a process spawned by a large parent
    would report the parent's peak (seen: 424 MB for a 76 MB instance started from pytest). ``VmHWM``
    belongs to the process's own address space. ``ru_maxrss`` (KiB on Linux) where /proc is missing.
    """
    status = _proc_status()
    if status is not None:
        at = status.find(b"VmHWM:")
        if at >= 0:
            return round(int(status[at + 6 : status.index(b"kB", at)]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


_STATUS_FD: tuple[int, int] | None = None  # (pid, fd of /proc/<pid>/status): opened once per process


def _proc_status() -> bytes | None:
    """This process's /proc status, re-read through a descriptor kept open (every invocation reports
    its peak memory: opening the file each time cost more than the rest of the telemetry line)."""
    global _STATUS_FD
    pid = os.getpid()
    if _STATUS_FD is None or _STATUS_FD[0] != pid:  # a forked child must not read its parent's file
        try:
            _STATUS_FD = (pid, os.open(f"/proc/{pid}/status", os.O_RDONLY))
        except OSError:
            return None
    try:
        return os.pread(_STATUS_FD[1], 8192, 0)
    except OSError:
        return None


class InstanceState:
    """Cold-start bookkeeping: the first invocation of the instance carries ColdStart=1 and InitMs."""

    def __init__(self, init_ms: float, *, prewarmed: bool) -> None:
        self.init_ms = round(init_ms, 3)
        self._cold = not prewarmed
        self._lock = threading.Lock()

    def take_cold_start(self) -> tuple[int, float]:
        with self._lock:
            if self._cold:
                self._cold = False
                return 1, self.init_ms
            return 0, 0.0


def build_model(settings: ServiceSettings, version: str, card: ModelCard) -> LazyModel:
    model_dir = settings.model_dir or PACKAGED_MODEL_DIR
    return LazyModel(version, onnx_loader(card, model_dir, intra_op_threads=settings.ort_threads),
                     retry_interval_s=settings.model_retry_s)


class Service:
    """The reference service inside one instance (container or process)."""

    def __init__(self, settings: ServiceSettings, sink: TelemetrySink, *, init_started_s: float,
                 model: Model | None = None, shadow_model: Model | None = None) -> None:
        self.settings = settings
        self.sink = sink
        self.card = ModelCard.load(settings.model_version, settings.model_dir)
        self.fallback = Fallback.from_card(self.card)
        self._scales = decimal_scales(self.card.valid_max)
        self.lazy = build_model(settings, settings.model_version, self.card) if model is None else None
        base: Model = model if model is not None else self.lazy  # type: ignore[assignment]
        if settings.faults.active:
            base = FaultInjectingModel(base, settings.faults)
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        self.batcher: MicroBatcher | None = None
        if settings.concurrency > 1:
            self.batcher = MicroBatcher(base, max_rows=settings.batch_max_rows,
                                        max_wait_ms=settings.batch_max_wait_ms, in_flight=lambda: self._in_flight)
            base = self.batcher
        self.model: Model = base
        self.executor = ThreadPoolExecutor(max_workers=settings.concurrency + 4, thread_name_prefix="inference")
        self.shadow: ShadowScorer | None = None
        if shadow_model is None and settings.shadow_version:
            shadow_card = ModelCard.load(settings.shadow_version, settings.model_dir)
            shadow_model = build_model(settings, settings.shadow_version, shadow_card)
        if shadow_model is not None:
            self.shadow = ShadowScorer(shadow_model)
        if self.lazy is not None:
            try:
                self.lazy.ensure_loaded()  # load during init, so the load counts in InitMs
            except Exception:  # noqa: BLE001, S110 - degraded until it loads; /healthz says so
                pass
        self.state = InstanceState((time.time() - init_started_s) * 1000, prewarmed=settings.prewarmed)

    @property
    def ready(self) -> bool:
        return self.lazy is None or self.lazy.ready

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def health(self) -> dict[str, Any]:
        if self.lazy is not None and not self.lazy.ready:
            try:
                self.lazy.ensure_loaded()
            except Exception:  # noqa: BLE001, S110 - reported below
                pass
        error = self.lazy.last_error if self.lazy is not None and not self.lazy.ready else None
        return {"status": "degraded" if error else "ok", "degraded": error is not None,
                "model_version": self.settings.model_version, "deployment": self.settings.deployment,
                "reason": str(error) if error else None, "in_flight": self._in_flight}

    def _record(self, *, request_id: str, status: str, latency_ms: float, rows: int, cold: tuple[int, float],
                prediction: Prediction | None = None, version: str | None = None, summary: Any = None,
                error_type: str | None = None, shadow: ShadowOutcome | None = None) -> InvocationRecord:
        s = self.settings
        return InvocationRecord(
            timestamp_ms=int(time.time() * 1000), deployment=s.deployment, model_version=version or s.model_version,
            role=s.role, request_id=request_id, status=status, latency_ms=round(latency_ms, 3),
            cold_start=cold[0], init_ms=cold[1], memory_mb=s.memory_mb, max_memory_used_mb=max_memory_used_mb(),
            rows=rows, scores=capped_scores(prediction.scores) if prediction is not None else (),
            classes=capped_classes(prediction.labels) if prediction is not None else (),
            input_summary=summary, input_summary_rows=len(next(iter(summary.values()))) if summary else 0,
            error_type=error_type, shadow=shadow, prewarmed=s.prewarmed)

    def _emit(self, code: int, body: dict[str, Any], record: InvocationRecord,
              failure: BaseException | None = None) -> Reply:
        self.sink.write(record)
        return Reply(code, body, record, failure)

    def reject_oversize(self, size_bytes: int, *, request_id: str | None = None) -> Reply:
        request_id = request_id or uuid.uuid4().hex
        exc = PayloadTooLargeError(size_bytes, self.settings.max_body_bytes)
        cold = self.state.take_cold_start()
        record = self._record(request_id=request_id, status="client_error", latency_ms=0.0, rows=0, cold=cold,
                              error_type=type(exc).__name__)
        body = error_body(str(exc), request_id=request_id)
        body["fields"] = [{"field": "body", "problem": f"larger than {self.settings.max_body_bytes} bytes"}]
        return self._emit(413, body, record)

    def reject_invalid(self, exc: InvalidInputError, *, request_id: str | None = None,
                       started_s: float | None = None) -> Reply:
        """A 400 for a request found invalid before it reached ``invoke`` (e.g. an undecodable envelope)."""
        request_id = request_id or uuid.uuid4().hex
        ms = 0.0 if started_s is None else (time.perf_counter() - started_s) * 1000
        record = self._record(request_id=request_id, status="client_error", latency_ms=ms, rows=0,
                              cold=self.state.take_cold_start(), error_type=type(exc).__name__)
        return self._emit(400, error_body(str(exc), exc.fields, request_id), record)

    def invoke(self, body: bytes | str | Mapping[str, Any], *, budget_s: float | None = None,
               request_id: str | None = None, started_s: float | None = None) -> Reply:
        t0 = started_s if started_s is not None else time.perf_counter()
        request_id = request_id or uuid.uuid4().hex
        budget_s = self.settings.inference_budget_s if budget_s is None else budget_s
        with self._in_flight_lock:
            self._in_flight += 1
        try:
            return self._invoke(body, budget_s, request_id, t0)
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    def _invoke(self, body: bytes | str | Mapping[str, Any], budget_s: float, request_id: str, t0: float) -> Reply:
        try:
            x = parse_request(body, self.card, self.settings.max_rows)
        except InvalidInputError as exc:
            return self.reject_invalid(exc, request_id=request_id, started_s=t0)
        cold = self.state.take_cold_start()
        shadow_run = self.shadow.start(x) if self.shadow is not None else None
        summary = None
        if self.settings.input_summary:
            summary = summarize_inputs(x, self.card.feature_names, scales=self._scales)
        remaining_s = budget_s - (time.perf_counter() - t0)
        try:
            result = predict_with_deadline(self.model, x, remaining_s, self.fallback, executor=self.executor)
        except Exception as exc:  # noqa: BLE001 - a real failure: answered 500 / re-raised by Lambda, never hidden
            shadow = self.shadow.finish(shadow_run, None, 0.0) if self.shadow and shadow_run else None
            ms = (time.perf_counter() - t0) * 1000
            record = self._record(request_id=request_id, status="error", latency_ms=ms, rows=len(x), cold=cold,
                                  summary=summary, error_type=type(exc).__name__, shadow=shadow)
            return self._emit(500, error_body(f"inference failed: {type(exc).__name__}", request_id=request_id),
                              record, exc)
        answer = answer_body(result, self.card, request_id)
        shadow = None
        if self.shadow is not None and shadow_run is not None:
            served = result.prediction if result.outcome == "ok" else None
            shadow = self.shadow.finish(shadow_run, served, self.settings.shadow_wait_ms / 1000)
        ms = (time.perf_counter() - t0) * 1000
        record = self._record(request_id=request_id, status=_status(result), latency_ms=ms, rows=len(x), cold=cold,
                              prediction=result.prediction, version=result.model_version, summary=summary,
                              error_type=result.error_type, shadow=shadow)
        return self._emit(200, answer, record)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        if self.shadow is not None:
            self.shadow.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def _status(result: PredictionResult) -> str:
    return {"ok": "ok", "timeout": "timeout", "degraded": "degraded"}[result.outcome]
