"""The model seam: the model card, a ``Model`` protocol, the ONNX implementation (one session per
container) and two wrappers, one that loads lazily and recovers, one that injects faults for demos.

The card of a reference model (v1, v2) ships beside it; the card of any other ONNX file is read from the
file itself (``reference_service.onnx_file``)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_service.deadline import WATCHDOG, run_until
from reference_service.errors import InferenceError, InferenceTimeoutError, InjectedFaultError, ModelLoadError
from reference_service.model_io import OutputReader, model_feed
from reference_service.prediction import Model, Prediction

PACKAGED_MODEL_DIR = Path(__file__).resolve().parent / "model"
VERSIONS = ("v1", "v2")


@dataclass(frozen=True, slots=True)
class ModelCard:
    """What the service knows about a model version without loading it: enough to validate input
    and to answer with a fallback when the model itself is unavailable."""

    version: str
    onnx_file: str
    sha256: str
    input_name: str
    feature_names: tuple[str, ...]
    valid_min: tuple[float, ...]
    valid_max: tuple[float, ...]
    classes: tuple[str, ...]  # () when the model's own labels are answered (any model but the reference ones)
    class_priors: tuple[float, ...]  # () when there is no fallback answer
    dtype: str = "float32"  # of the one 2-D input
    task: str = ""  # binary, multiclass or regression (docs/telemetry.md); "" for a reference card: by its classes
    kinds: tuple[str, ...] = ()  # per feature, "number" or "string"; () when every feature is a number
    column_inputs: tuple[str, ...] = ()  # one model input per feature (else one 2-D input)
    column_dtypes: tuple[str, ...] = ()  # numpy dtype of each such input ("str" for strings)
    column_ranks: tuple[int, ...] = ()  # 1 for an input [n], 2 for [n, 1]
    path: str | None = None  # a model file of its own (else ``<model_dir>/<onnx_file>``)

    def __post_init__(self) -> None:
        if not self.task:  # the reference models are classifiers, binary by their two classes
            object.__setattr__(self, "task", "binary" if len(self.classes) == 2 else "multiclass")

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def all_numbers(self) -> bool:
        return all(k == "number" for k in self.kinds)

    def model_file(self, model_dir: Path) -> Path:
        return Path(self.path) if self.path is not None else model_dir / self.onnx_file

    @classmethod
    def load(cls, version: str, model_dir: Path | None = None) -> ModelCard:
        """The card of ``version`` from ``model_dir``, else the one packaged with the service (a card is
        small and ships with the code, so validation and fallbacks work even when the model file is gone)."""
        if version not in VERSIONS:
            raise ModelLoadError(version, str(model_dir or PACKAGED_MODEL_DIR),
                                 f"unknown version, expected one of {VERSIONS}")
        candidates = [d / f"{version}.card.json" for d in (model_dir, PACKAGED_MODEL_DIR) if d is not None]
        for path in candidates:
            if path.is_file():
                return cls.from_dict(json.loads(path.read_text()))
        raise ModelLoadError(version, str(candidates[0]), "model card not found")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        return cls(
            version=str(data["version"]), onnx_file=str(data["onnx_file"]), sha256=str(data["sha256"]),
            input_name=str(data["input_name"]), feature_names=tuple(data["feature_names"]),
            valid_min=tuple(float(v) for v in data["valid_min"]),
            valid_max=tuple(float(v) for v in data["valid_max"]),
            classes=tuple(data["classes"]), class_priors=tuple(float(p) for p in data["class_priors"]),
            dtype=str(data.get("dtype", "float32")),
        )


class OnnxModel:
    """One onnxruntime session, loaded once and shared by every request of the container."""

    def __init__(self, card: ModelCard, model_dir: Path, *, intra_op_threads: int = 1) -> None:
        import onnxruntime as ort  # ~0.3 s: the handler's settings and errors load without it

        path = card.model_file(model_dir)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ModelLoadError(card.version, str(path), exc.strerror or type(exc).__name__) from exc
        digest = hashlib.sha256(raw).hexdigest()
        if digest != card.sha256:
            raise ModelLoadError(card.version, str(path), f"sha256 {digest[:12]}... does not match the card")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(raw, sess_options=options, providers=["CPUExecutionProvider"])
            self._reader = OutputReader(card.task, self._session.get_outputs())
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelLoadError(card.version, str(path), f"onnxruntime refused it: {exc}") from exc
        self.card = card
        self._ort = ort

    @property
    def version(self) -> str:
        return self.card.version

    def _read(self, outputs: list[Any]) -> Prediction:
        try:
            return self._reader.read(outputs)
        except (ValueError, KeyError, TypeError) as exc:
            raise InferenceError(self.card.version, f"outputs not understood: {exc}") from exc

    def predict(self, x: NDArray[Any]) -> Prediction:
        try:
            outputs = self._session.run(None, model_feed(self.card, x))
        except Exception as exc:
            raise InferenceError(self.card.version, str(exc)) from exc
        return self._read(outputs)

    def predict_until(self, x: NDArray[Any], deadline_s: float) -> Prediction:
        """Inline, terminated by the watchdog at ``deadline_s`` (a time.monotonic() value)."""
        budget_s = deadline_s - time.monotonic()
        if budget_s <= 0:
            raise InferenceTimeoutError(0.0)
        options = self._ort.RunOptions()
        entry = WATCHDOG.watch(deadline_s, options)
        try:
            outputs = self._session.run(None, model_feed(self.card, x), options)
        except Exception as exc:
            if options.terminate:
                raise InferenceTimeoutError(budget_s) from exc
            raise InferenceError(self.card.version, str(exc)) from exc
        finally:
            entry.done = True
        return self._read(outputs)


class LazyModel:
    """Loads the model on first use and, while it cannot, raises ModelLoadError (the service degrades)
    and tries again at most every ``retry_interval_s``: a model that appears later is picked up."""

    def __init__(self, version: str, loader: Callable[[], Model], *, retry_interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._version = version
        self._loader = loader
        self._retry_interval_s = retry_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._model: Model | None = None
        self._last_error: ModelLoadError | None = None
        self._last_attempt = float("-inf")

    @property
    def version(self) -> str:
        return self._version

    @property
    def ready(self) -> bool:
        return self._model is not None

    @property
    def last_error(self) -> ModelLoadError | None:
        return self._last_error

    def ensure_loaded(self) -> Model:
        model = self._model
        if model is not None:
            return model
        with self._lock:
            if self._model is not None:
                return self._model
            now = self._clock()
            if self._last_error is not None and now - self._last_attempt < self._retry_interval_s:
                raise self._last_error
            self._last_attempt = now
            try:
                self._model = self._loader()
            except ModelLoadError as exc:
                self._last_error = exc
                raise
            self._last_error = None
            return self._model

    def predict(self, x: NDArray[Any]) -> Prediction:
        return self.ensure_loaded().predict(x)

    def predict_until(self, x: NDArray[Any], deadline_s: float) -> Prediction:
        return run_until(self.ensure_loaded(), x, deadline_s)


@dataclass(frozen=True, slots=True)
class FaultSettings:
    slow_rate: float = 0.0
    slow_ms: float = 0.0
    error_rate: float = 0.0

    @property
    def active(self) -> bool:
        return self.slow_rate > 0 or self.error_rate > 0


class FaultInjectingModel:
    """Demo and test faults: with probability ``slow_rate`` sleep ``slow_ms`` first, with probability
    ``error_rate`` raise InjectedFaultError instead of answering."""

    def __init__(self, inner: Model, faults: FaultSettings, *, seed: int | None = None) -> None:
        self._inner = inner
        self._faults = faults
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return self._inner.version

    def _draw(self) -> tuple[bool, bool]:
        with self._lock:
            slow, fail = self._rng.random(2)
        return bool(slow < self._faults.slow_rate), bool(fail < self._faults.error_rate)

    def predict(self, x: NDArray[Any]) -> Prediction:
        slow, fail = self._draw()
        if slow:
            time.sleep(self._faults.slow_ms / 1000)
        if fail:
            raise InjectedFaultError(self.version, "injected fault (INFERWATCH_FAULT_ERROR_RATE)")
        return self._inner.predict(x)

    def predict_until(self, x: NDArray[Any], deadline_s: float) -> Prediction:
        """Like ``predict``, but an injected slowdown stops at the deadline, as a slow model run would."""
        slow, fail = self._draw()
        if slow:
            budget_s = deadline_s - time.monotonic()
            time.sleep(max(0.0, min(self._faults.slow_ms / 1000, budget_s)))
            if self._faults.slow_ms / 1000 >= budget_s:
                raise InferenceTimeoutError(max(budget_s, 0.0))
        if fail:
            raise InjectedFaultError(self.version, "injected fault (INFERWATCH_FAULT_ERROR_RATE)")
        return run_until(self._inner, x, deadline_s)


def onnx_loader(card: ModelCard, model_dir: Path, *, intra_op_threads: int = 1) -> Callable[[], Model]:
    return lambda: OnnxModel(card, model_dir, intra_op_threads=intra_op_threads)
