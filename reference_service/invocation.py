"""One invocation, the same for every adapter: size check, validation, prediction under a deadline,
shadow, answer, and exactly one telemetry line, written by the probe (``reference_service.telemetry``).
Adapters translate their event shapes to ``invoke`` and the returned ``Reply`` back; they hold no logic
of their own."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from inferwatch_probe import Invocation
from inferwatch_probe.outputs import scores_from_probabilities

from reference_service.batching import MicroBatcher
from reference_service.core import (
    Fallback,
    answer_body,
    error_body,
    parse_request,
    predict_with_deadline,
)
from reference_service.errors import InvalidInputError, ModelLoadError, PayloadTooLargeError, ServiceConfigError
from reference_service.model import PACKAGED_MODEL_DIR, FaultInjectingModel, LazyModel, ModelCard, onnx_loader
from reference_service.onnx_file import card_from_file
from reference_service.prediction import Model, Prediction
from reference_service.settings import ServiceSettings
from reference_service.shadow import ShadowOutcome, ShadowScorer
from reference_service.telemetry import LineSink, build_probe


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    body: dict[str, Any]
    failure: BaseException | None = None  # set for real failures: Lambda re-raises it (retry, then DLQ)


def load_card(settings: ServiceSettings) -> ModelCard:
    """The card of the model served: a reference model's packaged card, or one read from a model file of
    your own (which must load: ServiceConfigError naming the file and why, and the process does not start)."""
    if settings.model_path is None:
        return ModelCard.load(settings.model_version, settings.model_dir)
    try:
        return card_from_file(settings.model_path, version=settings.model_version, task=settings.task or "",
                              input_name=settings.input_name, feature_names=settings.feature_names)
    except ModelLoadError as exc:
        raise ServiceConfigError("INFERWATCH_MODEL_PATH", str(exc)) from exc


def build_model(settings: ServiceSettings, version: str, card: ModelCard) -> LazyModel:
    model_dir = settings.model_dir or PACKAGED_MODEL_DIR
    return LazyModel(version, onnx_loader(card, model_dir, intra_op_threads=settings.ort_threads),
                     retry_interval_s=settings.model_retry_s)


class Service:
    """The reference service inside one instance (container or process). ``sink`` takes its telemetry
    lines (default: the telemetry file of INFERWATCH_TELEMETRY_DIR, else stdout)."""

    def __init__(self, settings: ServiceSettings, sink: LineSink | None = None, *, model: Model | None = None,
                 shadow_model: Model | None = None) -> None:
        self.settings = settings
        self.card = load_card(settings)
        self.probe = build_probe(settings, self.card, sink)
        self.fallback = Fallback.from_card(self.card)
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
                with self.probe.timed("load"):  # load during init, so the load counts in the init
                    self.lazy.ensure_loaded()
            except Exception:  # noqa: BLE001, S110 - degraded until it loads; /healthz says so
                pass
        self.probe.ready()  # the instance's init ends here, whenever its first request comes

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

    def _scores(self, prediction: Prediction) -> Any:
        """The score per the task, as the probe reports it (binary: the positive class's probability)."""
        if prediction.probabilities is None:
            return None
        return scores_from_probabilities(self.card.task, prediction.probabilities, need_top=False)[0]

    def _record(self, inv: Invocation, x: Any, prediction: Prediction | None = None) -> None:
        """The rows of this invocation with their inputs, and the model's answer for them."""
        card = self.card
        inputs: Any = x if card.all_numbers and not card.column_inputs else {
            name: x[:, j] for j, name in enumerate(card.feature_names)}
        if prediction is None:
            inv.record(inputs=inputs, feature_names=card.feature_names)
            return
        inv.record(inputs=inputs, feature_names=card.feature_names, scores=self._scores(prediction),
                   classes=prediction.labels, values=prediction.values)

    def _record_shadow(self, inv: Invocation, outcome: ShadowOutcome) -> None:
        pred = outcome.prediction
        inv.shadow(outcome.version, outcome.status, scores=None if pred is None else self._scores(pred),
                   classes=None if pred is None else pred.labels, agree=outcome.agree, latency_ms=outcome.latency_ms)

    def reject_oversize(self, size_bytes: int, *, request_id: str | None = None) -> Reply:
        request_id = request_id or uuid.uuid4().hex
        exc = PayloadTooLargeError(size_bytes, self.settings.max_body_bytes)
        with self.probe.invocation(request_id) as inv:
            inv.answer(413, error_type=type(exc).__name__)
        body = error_body(str(exc), request_id=request_id)
        body["fields"] = [{"field": "body", "problem": f"larger than {self.settings.max_body_bytes} bytes"}]
        return Reply(413, body)

    def reject_invalid(self, exc: InvalidInputError, *, request_id: str | None = None,
                       started_s: float | None = None) -> Reply:
        """A 400 for a request found invalid before it reached ``invoke`` (e.g. an undecodable envelope)."""
        request_id = request_id or uuid.uuid4().hex
        with self.probe.invocation(request_id, started_s=started_s) as inv:
            inv.answer(400, error_type=type(exc).__name__)
        return Reply(400, error_body(str(exc), exc.fields, request_id))

    def invoke(self, body: bytes | str | Mapping[str, Any], *, budget_s: float | None = None,
               request_id: str | None = None, started_s: float | None = None) -> Reply:
        t0 = started_s if started_s is not None else time.perf_counter()
        request_id = request_id or uuid.uuid4().hex
        budget_s = self.settings.inference_budget_s if budget_s is None else budget_s
        with self._in_flight_lock:
            self._in_flight += 1
        try:
            with self.probe.invocation(request_id, started_s=t0) as inv:
                return self._invoke(inv, body, budget_s, request_id, t0)
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    def _invoke(self, inv: Invocation, body: bytes | str | Mapping[str, Any], budget_s: float, request_id: str,
                t0: float) -> Reply:
        try:
            x = parse_request(body, self.card, self.settings.max_rows)
        except InvalidInputError as exc:
            inv.answer(400, error_type=type(exc).__name__)
            return Reply(400, error_body(str(exc), exc.fields, request_id))
        shadow_run = self.shadow.start(x) if self.shadow is not None else None
        remaining_s = budget_s - (time.perf_counter() - t0)
        try:
            result = predict_with_deadline(self.model, x, remaining_s, self.fallback, executor=self.executor)
        except Exception as exc:  # noqa: BLE001 - a real failure: answered 500 / re-raised by Lambda, never hidden
            if self.shadow is not None and shadow_run is not None:
                self._record_shadow(inv, self.shadow.finish(shadow_run, None, 0.0))
            self._record(inv, x)
            inv.answer(500, error_type=type(exc).__name__)
            return Reply(500, error_body(f"inference failed: {type(exc).__name__}", request_id=request_id), exc)
        if result.prediction is None:  # no fallback for a model of your own
            return self._unanswered(inv, x, result.outcome, result.error_type, request_id)
        answer = answer_body(result, self.card, request_id)
        if self.shadow is not None and shadow_run is not None:
            served = result.prediction if result.outcome == "ok" else None
            self._record_shadow(inv, self.shadow.finish(shadow_run, served, self.settings.shadow_wait_ms / 1000))
        if result.outcome == "ok":
            self._record(inv, x, result.prediction)
        else:  # a fallback answered: the rows and their inputs, not the fallback's scores (not the model's)
            self._record(inv, x)
            if result.outcome == "timeout":
                inv.timed_out(result.error_type or "InferenceTimeoutError")
            else:
                inv.degraded(result.error_type or "Degraded")
        return Reply(200, answer)

    def _unanswered(self, inv: Invocation, x: Any, outcome: str, error_type: str | None, request_id: str) -> Reply:
        """A model without a fallback that could not answer: 504 when out of time, 503 when it cannot load."""
        self._record(inv, x)
        if outcome == "timeout":
            inv.timed_out(error_type or "InferenceTimeoutError")
            return Reply(504, error_body("inference did not finish in time", request_id=request_id))
        inv.answer(503, error_type=error_type or "ModelLoadError")
        return Reply(503, error_body("the model is unavailable", request_id=request_id))

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        if self.shadow is not None:
            self.shadow.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.probe.close()
