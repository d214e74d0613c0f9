"""Settings of one service instance, read from the environment only at the edges (``from_env``).

| variable | default | meaning |
|---|---|---|
| INFERWATCH_DEPLOYMENT | ``local-<version>`` | deployment name written in telemetry (a name: see ``names.py``) |
| INFERWATCH_SERVICE | the deployment | the service (endpoint) the deployment belongs to, written in telemetry |
| INFERWATCH_MODEL_VERSION | v1 | model version served (v1, v2; any name with INFERWATCH_MODEL_PATH) |
| INFERWATCH_MODEL_PATH | (none) | serve this ONNX file (a model of your own) instead of a reference model |
| INFERWATCH_TASK | (required with a model path) | binary, multiclass or regression: what its outputs mean |
| INFERWATCH_INPUT_NAME | (none) | the model input the rows go to (checked against the model) |
| INFERWATCH_FEATURE_NAMES | ``<input>_<j>`` | JSON list naming the columns of a model's one 2-D input |
| INFERWATCH_ROLE | stable | stable, canary, blue, green or shadow |
| INFERWATCH_MEMORY_MB | 512 | configured memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE on Lambda) |
| INFERWATCH_TIMEOUT_S | 30 | request timeout; the inference deadline is this minus the safety margin |
| INFERWATCH_SAFETY_MARGIN_MS | 100 | kept between the inference deadline and the timeout (at most 20% of it) |
| INFERWATCH_CONCURRENCY | 4 | max in-flight requests per instance; above 1, micro-batching is on |
| INFERWATCH_BATCH_MAX_ROWS | 64 | rows per micro-batch |
| INFERWATCH_BATCH_MAX_WAIT_MS | 2 | how long a micro-batch waits for more requests |
| INFERWATCH_MAX_ROWS | 256 | rows accepted in one request |
| INFERWATCH_MAX_BODY_BYTES | 1048576 | larger bodies are refused (413) before they are read |
| INFERWATCH_SHADOW_VERSION | (none) | also score every request with this version, off the answer path |
| INFERWATCH_SHADOW_WAIT_MS | 20 | how long an answer may wait for the shadow's result to log it |
| INFERWATCH_PREWARMED | 0 | 1: started ahead of traffic, so the first request is not a cold start |
| INFERWATCH_MODEL_DIR | packaged | folder holding ``<version>.onnx`` (and optionally its card) |
| INFERWATCH_MODEL_RETRY_S | 1 | how often a model that failed to load is tried again |
| INFERWATCH_ORT_THREADS | 1 | onnxruntime intra-op threads |
| INFERWATCH_FAULT_SLOW_RATE / _SLOW_MS / _ERROR_RATE | 0 | fault injection for demos and tests |
| INFERWATCH_TELEMETRY_DIR | (stdout) | append EMF lines to ``<dir>/<instance_id>.jsonl`` instead of stdout |
| INFERWATCH_TELEMETRY_ROTATE_MB | 64 | rotate the telemetry file at this size |
| INFERWATCH_INSTANCE_ID | ``<deployment>-<pid>-<random>`` | names the telemetry file (a name of up to 96 characters) |
| INFERWATCH_INPUT_SUMMARY | 1 | 0: leave per-feature input values out of telemetry |
| INFERWATCH_HOME | ./.inferwatch | local state: the durable async queue and DLQ live in ``<home>/dlq`` |
| INFERWATCH_DLQ_URL | (none) | Lambda: SQS queue URL that receives poison SQS messages |

Telemetry is the probe's (``reference_service.telemetry``): INFERWATCH_PROBE_MODE and INFERWATCH_EMF_METRICS
are read by it, as are the platform's own variables (AWS_LAMBDA_*, K_*).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from reference_service.errors import ServiceConfigError
from reference_service.model import VERSIONS, FaultSettings
from reference_service.names import INSTANCE_ID_MAX_CHARS, name_problem, name_rule

ROLES = ("stable", "canary", "blue", "green", "shadow")
TASKS = ("binary", "multiclass", "regression")
_PROBE_ENV_PREFIXES = ("INFERWATCH_PROBE_MODE", "INFERWATCH_EMF_METRICS", "AWS_LAMBDA_", "K_")
T = TypeVar("T")


def _read(env: Mapping[str, str], name: str, convert: Callable[[str], T], default: T,
          check: Callable[[T], bool] = lambda _: True, rule: str = "") -> T:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = convert(raw.strip())
    except ValueError as exc:
        raise ServiceConfigError(name, f"cannot read {raw!r} as {getattr(convert, '__name__', 'a value')}") from exc
    if not check(value):
        raise ServiceConfigError(name, f"{raw!r} is not allowed: {rule}")
    return value


def _names(raw: str) -> tuple[str, ...]:
    """A JSON list of feature names."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a JSON list of names: {exc}") from exc
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError("not a JSON list of non-empty names")
    return tuple(value)


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _model(env: Mapping[str, str]) -> tuple[str, str, str | None]:
    """(model path, version, task): a model of your own takes any version name and needs its task; the
    reference models are v1 and v2."""
    model_path = _read(env, "INFERWATCH_MODEL_PATH", str, "")
    if model_path:
        version = _read(env, "INFERWATCH_MODEL_VERSION", str, "model", lambda v: name_problem(v) is None, name_rule())
    else:
        version = _read(env, "INFERWATCH_MODEL_VERSION", str, "v1", lambda v: v in VERSIONS,
                        f"one of {VERSIONS} (or set INFERWATCH_MODEL_PATH to a model of your own)")
    task = _read(env, "INFERWATCH_TASK", str, "", lambda v: v in TASKS, f"one of {TASKS}") or None
    if model_path and task is None:
        raise ServiceConfigError("INFERWATCH_TASK", f"required with INFERWATCH_MODEL_PATH: one of {TASKS}")
    return model_path, version, task


def _positive(v: float) -> bool:
    return v > 0


def _rate(v: float) -> bool:
    return 0.0 <= v <= 1.0


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    deployment: str = "local-v1"
    service: str | None = None  # None: the deployment
    model_version: str = "v1"
    model_path: Path | None = None  # a model of your own (its card is read from the file)
    task: str | None = None  # with model_path: binary, multiclass or regression
    input_name: str | None = None
    feature_names: tuple[str, ...] | None = None
    role: str = "stable"
    memory_mb: int = 512
    timeout_s: float = 30.0
    safety_margin_s: float = 0.1
    concurrency: int = 4
    batch_max_rows: int = 64
    batch_max_wait_ms: float = 2.0
    max_rows: int = 256
    max_body_bytes: int = 1 << 20
    shadow_version: str | None = None
    shadow_wait_ms: float = 20.0
    prewarmed: bool = False
    model_dir: Path | None = None
    model_retry_s: float = 1.0
    ort_threads: int = 1
    faults: FaultSettings = field(default_factory=FaultSettings)
    telemetry_dir: Path | None = None
    telemetry_rotate_mb: float = 64.0
    instance_id: str = ""
    input_summary: bool = True
    home: Path = Path(".inferwatch")
    dlq_url: str | None = None
    # what the probe reads from the environment itself (the platform's variables, its mode and metrics)
    probe_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    @property
    def inference_budget_s(self) -> float:
        """Deadline for one inference: the timeout minus a margin, so we answer before being killed."""
        return self.timeout_s - min(self.safety_margin_s, 0.2 * self.timeout_s)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ServiceSettings:
        model_path, version, task = _model(env)
        deployment = _read(env, "INFERWATCH_DEPLOYMENT", str, f"local-{version}",
                           lambda v: name_problem(v) is None, name_rule())

        shadow = _read(env, "INFERWATCH_SHADOW_VERSION", str, "", lambda v: v in VERSIONS, f"one of {VERSIONS}")
        model_dir = _read(env, "INFERWATCH_MODEL_DIR", str, "")
        tel_dir = _read(env, "INFERWATCH_TELEMETRY_DIR", str, "")

        memory_default = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512") or 512)
        return cls(
            deployment=deployment,
            service=_read(env, "INFERWATCH_SERVICE", str, "", lambda v: name_problem(v) is None, name_rule()) or None,
            model_version=version,
            model_path=Path(model_path) if model_path else None,
            task=task,
            input_name=_read(env, "INFERWATCH_INPUT_NAME", str, "") or None,
            feature_names=_read(env, "INFERWATCH_FEATURE_NAMES", _names, None),
            role=_read(env, "INFERWATCH_ROLE", str, "stable", lambda v: v in ROLES, f"one of {ROLES}"),
            memory_mb=_read(env, "INFERWATCH_MEMORY_MB", int, memory_default, _positive, "a positive integer"),
            timeout_s=_read(env, "INFERWATCH_TIMEOUT_S", float, 30.0, lambda v: 0 < v <= 3600, "in (0, 3600]"),
            safety_margin_s=_read(env, "INFERWATCH_SAFETY_MARGIN_MS", float, 100.0, lambda v: v >= 0, ">= 0") / 1000,
            concurrency=_read(env, "INFERWATCH_CONCURRENCY", int, 4, lambda v: 1 <= v <= 1000, "in [1, 1000]"),
            batch_max_rows=_read(env, "INFERWATCH_BATCH_MAX_ROWS", int, 64, _positive, "a positive integer"),
            batch_max_wait_ms=_read(env, "INFERWATCH_BATCH_MAX_WAIT_MS", float, 2.0, lambda v: 0 <= v <= 1000,
                                    "in [0, 1000]"),
            max_rows=_read(env, "INFERWATCH_MAX_ROWS", int, 256, lambda v: 1 <= v <= 100_000, "in [1, 100000]"),
            max_body_bytes=_read(env, "INFERWATCH_MAX_BODY_BYTES", int, 1 << 20, lambda v: v >= 1024, ">= 1024"),
            shadow_version=shadow or None,
            shadow_wait_ms=_read(env, "INFERWATCH_SHADOW_WAIT_MS", float, 20.0, lambda v: v >= 0, ">= 0"),
            prewarmed=_read(env, "INFERWATCH_PREWARMED", _flag, False),
            model_dir=Path(model_dir) if model_dir else None,
            model_retry_s=_read(env, "INFERWATCH_MODEL_RETRY_S", float, 1.0, lambda v: v >= 0, ">= 0"),
            ort_threads=_read(env, "INFERWATCH_ORT_THREADS", int, 1, lambda v: 1 <= v <= 64, "in [1, 64]"),
            faults=FaultSettings(
                slow_rate=_read(env, "INFERWATCH_FAULT_SLOW_RATE", float, 0.0, _rate, "in [0, 1]"),
                slow_ms=_read(env, "INFERWATCH_FAULT_SLOW_MS", float, 0.0, lambda v: v >= 0, ">= 0"),
                error_rate=_read(env, "INFERWATCH_FAULT_ERROR_RATE", float, 0.0, _rate, "in [0, 1]"),
            ),
            telemetry_dir=Path(tel_dir) if tel_dir else None,
            telemetry_rotate_mb=_read(env, "INFERWATCH_TELEMETRY_ROTATE_MB", float, 64.0, lambda v: v > 0, "> 0"),
            # the default is made of a valid deployment name, the pid and hex digits: a valid id
            instance_id=_read(env, "INFERWATCH_INSTANCE_ID", str, f"{deployment}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
                              lambda v: name_problem(v, max_chars=INSTANCE_ID_MAX_CHARS) is None,
                              name_rule(INSTANCE_ID_MAX_CHARS)),
            input_summary=_read(env, "INFERWATCH_INPUT_SUMMARY", _flag, True),
            home=Path(env.get("INFERWATCH_HOME") or ".inferwatch"),
            dlq_url=env.get("INFERWATCH_DLQ_URL") or None,
            probe_env=MappingProxyType({k: v for k, v in env.items() if k.startswith(_PROBE_ENV_PREFIXES)}),
        )
