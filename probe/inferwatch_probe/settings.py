"""The probe's settings: explicit arguments beat the environment, which is read once, when the Probe is
built (never at import, never per invocation).

| variable | default | meaning |
|---|---|---|
| INFERWATCH_DEPLOYMENT | Lambda function name / Cloud Run service | deployment name (a safe file name) |
| INFERWATCH_MODEL_VERSION | (required) | the model version that answers |
| INFERWATCH_TASK | (required) | binary, multiclass or regression |
| INFERWATCH_SERVICE | Lambda function name / Cloud Run service / deployment | groups the deployments of one endpoint |
| INFERWATCH_ROLE | stable | stable, canary, blue, green or shadow |
| INFERWATCH_MODEL_SHA256 | (sha256 of the file given to ``probe.session``) | the model file's sha256 |
| INFERWATCH_PROBE_MODE | window on Lambda and Cloud Run, else invocation | window or invocation |
| INFERWATCH_FLUSH_S | 60 | window mode: seconds between window lines |
| INFERWATCH_PROBE_BINS | (none) | path of the baseline's bins file (docs/telemetry.md) |
| INFERWATCH_TELEMETRY_DIR | (stdout) | write ``<dir>/<instance_id>.jsonl`` instead of stdout |
| INFERWATCH_TELEMETRY_ROTATE_MB | 64 | file sink: rotate at this size |
| INFERWATCH_INSTANCE_ID | ``<deployment>-<pid>-<random>`` | this instance's id (a safe file name) |
| INFERWATCH_MEMORY_MB | Lambda's configured memory / the container's cgroup limit | configured memory |
| INFERWATCH_EMF_METRICS | none | invocation mode: metrics declared to CloudWatch (none, standard, or names) |
| INFERWATCH_INPUT_SUMMARY_ROWS | 10 | invocation mode: rows of inputs per line (0: none) |
| INFERWATCH_PREWARMED | 0 | 1: started ahead of traffic (the emulator's min instances): no cold start; lines say so |
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferwatch_probe.errors import ProbeConfigError
from inferwatch_probe.process import INSTANCE_ID_MAX_CHARS, cgroup_memory_mb, check_safe_name

TASKS = ("binary", "multiclass", "regression")
MODES = ("window", "invocation")
ROLES = ("stable", "canary", "blue", "green", "shadow")
# what CloudWatch may extract from an invocation line; each one is a custom metric per dimension set
EMF_METRICS = ("LatencyMs", "InitMs", "Rows", "ColdStart", "ClientError", "Timeout", "Degraded", "ServerError",
               "MaxMemoryUsedMb", "PredictionScore", "PredictionValue", "ShadowAgree")
STANDARD_METRICS = EMF_METRICS[:10]  # the pre-probe reference service's list
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_FLUSH_S = 3600.0


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    deployment: str
    model_version: str
    task: str
    service: str
    platform: str  # lambda | cloud_run | local
    mode: str
    role: str = "stable"
    model_sha256: str | None = None
    flush_interval_s: float = 60.0
    bins_path: Path | None = None
    telemetry_dir: Path | None = None
    rotate_mb: float = 64.0
    instance_id: str | None = None  # None: generated per process
    memory_mb: int = 0  # 0: unknown
    metrics: tuple[str, ...] = ()
    input_summary_rows: int = 10
    revision: str | None = None  # Cloud Run K_REVISION
    function_version: str | None = None  # Lambda AWS_LAMBDA_FUNCTION_VERSION
    init_type: str | None = None  # Lambda AWS_LAMBDA_INITIALIZATION_TYPE
    prewarmed: bool = False  # started ahead of traffic (the emulator's min instances)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, **explicit: Any) -> ProbeSettings:
        """Settings from ``explicit`` arguments (None means "not given"), then ``env``, then defaults."""
        given = {k: v for k, v in explicit.items() if v is not None}
        platform = "lambda" if env.get("AWS_LAMBDA_FUNCTION_NAME") else "cloud_run" if env.get("K_SERVICE") else "local"
        platform_name = env.get("AWS_LAMBDA_FUNCTION_NAME") or env.get("K_SERVICE")

        def pick(key: str, var: str, default: Any = None) -> Any:
            if key in given:
                return given[key]
            return env[var] if env.get(var) else default

        deployment = pick("deployment", "INFERWATCH_DEPLOYMENT", platform_name)
        if deployment is None:
            raise ProbeConfigError("required: pass deployment= or set INFERWATCH_DEPLOYMENT", field="deployment")
        check_safe_name(deployment, "deployment")
        mode = pick("mode", "INFERWATCH_PROBE_MODE", "window" if platform != "local" else "invocation")
        return cls(
            deployment=deployment,
            model_version=_name(pick("model_version", "INFERWATCH_MODEL_VERSION"), "model_version",
                                "INFERWATCH_MODEL_VERSION"),
            task=_choice(pick("task", "INFERWATCH_TASK"), TASKS, "task", "INFERWATCH_TASK"),
            service=_name(pick("service", "INFERWATCH_SERVICE", platform_name or deployment), "service",
                          "INFERWATCH_SERVICE"),
            platform=platform, mode=_choice(mode, MODES, "mode", "INFERWATCH_PROBE_MODE"),
            role=_choice(pick("role", "INFERWATCH_ROLE", "stable"), ROLES, "role", "INFERWATCH_ROLE"),
            model_sha256=_sha256(pick("model_sha256", "INFERWATCH_MODEL_SHA256")),
            flush_interval_s=_number(pick("flush_interval_s", "INFERWATCH_FLUSH_S", 60.0), "flush_interval_s",
                                     low=0.001, high=_MAX_FLUSH_S),
            bins_path=_path(pick("bins_path", "INFERWATCH_PROBE_BINS")),
            telemetry_dir=_path(pick("telemetry_dir", "INFERWATCH_TELEMETRY_DIR")),
            rotate_mb=_number(pick("rotate_mb", "INFERWATCH_TELEMETRY_ROTATE_MB", 64.0), "rotate_mb",
                              low=0.001, high=1 << 20),
            instance_id=_instance_id(pick("instance_id", "INFERWATCH_INSTANCE_ID")),
            memory_mb=int(_number(pick("memory_mb", "INFERWATCH_MEMORY_MB", _platform_memory_mb(env, platform)),
                                  "memory_mb", low=0, high=1 << 24)),
            metrics=_metrics(pick("metrics", "INFERWATCH_EMF_METRICS", "none")),
            input_summary_rows=int(_number(pick("input_summary_rows", "INFERWATCH_INPUT_SUMMARY_ROWS", 10),
                                           "input_summary_rows", low=0, high=100)),
            revision=env.get("K_REVISION") if platform == "cloud_run" else None,
            function_version=env.get("AWS_LAMBDA_FUNCTION_VERSION") if platform == "lambda" else None,
            init_type=env.get("AWS_LAMBDA_INITIALIZATION_TYPE") if platform == "lambda" else None,
            prewarmed=_flag(pick("prewarmed", "INFERWATCH_PREWARMED", False), "prewarmed"),
        )


def _platform_memory_mb(env: Mapping[str, str], platform: str) -> int:
    if platform == "lambda":
        raw = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        return int(raw) if raw.isdigit() else 0
    return cgroup_memory_mb() if platform == "cloud_run" else 0


def _name(value: Any, field: str, var: str) -> str:
    """A required name: it becomes a deployment id or a metric dimension, so it follows the name rule."""
    if value is None:
        raise ProbeConfigError(f"required: pass {field}= or set {var}", field=field, value=value)
    return check_safe_name(str(value), field)


def _choice(value: Any, choices: tuple[str, ...], field: str, var: str) -> str:
    if value not in choices:
        raise ProbeConfigError(f"must be one of {', '.join(choices)} (argument {field}= or {var}), got {value!r}",
                               field=field, value=value)
    return str(value)


def _number(value: Any, field: str, *, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ProbeConfigError(f"not a number: {value!r}", field=field, value=value) from exc
    if not math.isfinite(number) or not low <= number <= high:
        raise ProbeConfigError(f"must be between {low} and {high}, got {value!r}", field=field, value=value)
    return number


def _flag(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ProbeConfigError(f"must be 1 or 0 (true or false), got {value!r}", field=field, value=value)


def _sha256(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.match(value.lower()):
        raise ProbeConfigError("must be 64 hexadecimal digits", field="model_sha256", value=value)
    return value.lower()


def _path(value: Any) -> Path | None:
    return None if value is None else Path(value)


def _instance_id(value: Any) -> str | None:
    return None if value is None else check_safe_name(str(value), "instance_id", max_chars=INSTANCE_ID_MAX_CHARS)


def _metrics(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        if value.strip().lower() == "none" or not value.strip():
            return ()
        if value.strip().lower() == "standard":
            return STANDARD_METRICS
        value = [v.strip() for v in value.split(",") if v.strip()]
    names = tuple(value)
    unknown = [n for n in names if n not in EMF_METRICS]
    if unknown:
        raise ProbeConfigError(f"unknown metric(s) {unknown}: choose from {', '.join(EMF_METRICS)}, 'standard' "
                               "or 'none'", field="metrics", value=value)
    return names
