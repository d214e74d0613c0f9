"""Configuration of emulated deployments and the services that route traffic between them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from reference_service.emulator.errors import ConfigError
from reference_service.names import name_problem

ROLES = frozenset({"stable", "canary", "blue", "green", "shadow"})
MODEL_VERSIONS = frozenset({"v1", "v2"})  # the reference models; any name with a model_path of your own
TASKS = ("binary", "multiclass", "regression")


def _check_name(field_name: str, value: str) -> None:
    problem = name_problem(value)  # the names become telemetry file names, ids and URL paths
    if problem:
        raise ConfigError(field_name, problem)


def _check_number(field_name: str, value: float, *, minimum: float, maximum: float = math.inf) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(field_name, f"{value!r} is not a finite number")
    if not minimum <= value <= maximum:
        raise ConfigError(field_name, f"{value!r} is outside [{minimum:g}, {maximum:g}]")


def _check_int(field_name: str, value: int, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field_name, f"{value!r} is not an integer")
    if value < minimum:
        raise ConfigError(field_name, f"{value!r} is below the minimum {minimum}")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Fault injection handed to the instance process as INFERWATCH_FAULT_* variables."""

    slow_rate: float = 0.0  # share of requests made slow
    slow_ms: float = 0.0  # extra latency of a slow request
    error_rate: float = 0.0  # share of requests that fail inside the model call
    extra_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        _check_number("faults.slow_rate", self.slow_rate, minimum=0.0, maximum=1.0)
        _check_number("faults.slow_ms", self.slow_ms, minimum=0.0)
        _check_number("faults.error_rate", self.error_rate, minimum=0.0, maximum=1.0)
        for key, value in self.extra_env.items():
            if not isinstance(key, str) or not key.startswith("INFERWATCH_FAULT_"):
                raise ConfigError("faults.extra_env", f"{key!r} must start with INFERWATCH_FAULT_")
            if not isinstance(value, str):
                raise ConfigError(f"faults.extra_env.{key}", f"{value!r} is not a string")
        object.__setattr__(self, "extra_env", MappingProxyType(dict(self.extra_env)))

    def to_env(self) -> dict[str, str]:
        """The environment variables the instance process reads."""
        env = dict(self.extra_env)
        if self.slow_rate > 0:
            env["INFERWATCH_FAULT_SLOW_RATE"] = repr(float(self.slow_rate))
            env["INFERWATCH_FAULT_SLOW_MS"] = repr(float(self.slow_ms))
        if self.error_rate > 0:
            env["INFERWATCH_FAULT_ERROR_RATE"] = repr(float(self.error_rate))
        return env


@dataclass(frozen=True, slots=True)
class DeploymentConfig:
    """One emulated function: a model version served by a pool of instance processes. ``model_path`` serves
    an ONNX file of your own (with its ``task``) instead of a reference model."""

    name: str
    model_version: str = "v1"
    role: str = "stable"
    memory_mb: int = 512  # configured memory; an instance whose RSS exceeds it is OOM-killed
    timeout_s: float = 10.0  # request timeout (the server's deadline is shorter)
    concurrency: int = 4  # max in-flight requests per instance
    min_instances: int = 0  # started ahead of traffic (prewarmed) and never scaled away
    max_instances: int = 10
    keep_alive_s: float = 60.0  # idle time after which an instance above min_instances is stopped
    queue_wait_s: float = 0.0  # at max_instances, wait this long for a free slot before 429 (0: Lambda-like)
    shadow_version: str | None = None  # also score every request with this version, off the answer path
    faults: FaultConfig = field(default_factory=FaultConfig)
    batch_max_rows: int | None = None
    batch_max_wait_ms: float | None = None
    extra_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # other INFERWATCH_*
    service: str | None = None  # written in telemetry (default: the deployment)
    model_path: str | None = None
    task: str | None = None
    input_name: str | None = None
    feature_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _check_name("name", self.name)
        for key, value in self.extra_env.items():
            if not isinstance(key, str) or not key.startswith("INFERWATCH_") or not isinstance(value, str):
                raise ConfigError(f"extra_env.{key}", "must map an INFERWATCH_* name to a string")
        object.__setattr__(self, "extra_env", MappingProxyType(dict(self.extra_env)))
        self._check_model()
        if self.role not in ROLES:
            raise ConfigError("role", f"{self.role!r} not in {sorted(ROLES)}")
        _check_int("memory_mb", self.memory_mb, minimum=16)
        _check_number("timeout_s", self.timeout_s, minimum=0.05, maximum=900.0)
        _check_int("concurrency", self.concurrency, minimum=1)
        _check_int("min_instances", self.min_instances, minimum=0)
        _check_int("max_instances", self.max_instances, minimum=1)
        if self.min_instances > self.max_instances:
            raise ConfigError("min_instances", f"{self.min_instances} exceeds max_instances {self.max_instances}")
        _check_number("keep_alive_s", self.keep_alive_s, minimum=0.0)
        _check_number("queue_wait_s", self.queue_wait_s, minimum=0.0, maximum=900.0)
        if self.shadow_version is not None and self.shadow_version not in MODEL_VERSIONS:
            raise ConfigError("shadow_version", f"{self.shadow_version!r} not in {sorted(MODEL_VERSIONS)}")
        if not isinstance(self.faults, FaultConfig):
            raise ConfigError("faults", "must be a FaultConfig")
        if self.batch_max_rows is not None:
            _check_int("batch_max_rows", self.batch_max_rows, minimum=1)
        if self.batch_max_wait_ms is not None:
            _check_number("batch_max_wait_ms", self.batch_max_wait_ms, minimum=0.0)

    def _check_model(self) -> None:
        if self.service is not None:
            _check_name("service", self.service)
        if self.model_path is None:
            if self.model_version not in MODEL_VERSIONS:
                raise ConfigError("model_version", f"{self.model_version!r} not in {sorted(MODEL_VERSIONS)} (the "
                                                   "reference models): give model_path to serve a model of your own")
            if self.task is not None or self.input_name is not None or self.feature_names is not None:
                raise ConfigError("task", "task, input_name and feature_names go with a model_path")
            return
        _check_name("model_version", self.model_version)
        # instances run in the emulator's home: a relative path must not change meaning there
        object.__setattr__(self, "model_path", str(Path(self.model_path).resolve()))
        if self.task not in TASKS:
            raise ConfigError("task", f"{self.task!r}: a model_path needs its task, one of {', '.join(TASKS)}")
        if self.shadow_version is not None:
            raise ConfigError("shadow_version", "shadow scoring compares the reference models only")

    def instance_env(self) -> dict[str, str]:
        """The INFERWATCH_* environment of one instance (without home paths and prewarm flag).

        ``extra_env`` comes first, so the explicit fields always win over it.
        """
        env = dict(self.extra_env)
        env |= {
            "INFERWATCH_DEPLOYMENT": self.name,
            "INFERWATCH_MODEL_VERSION": self.model_version,
            "INFERWATCH_ROLE": self.role,
            "INFERWATCH_MEMORY_MB": str(self.memory_mb),
            "INFERWATCH_TIMEOUT_S": repr(float(self.timeout_s)),
            "INFERWATCH_CONCURRENCY": str(self.concurrency),
        }
        if self.shadow_version is not None:
            env["INFERWATCH_SHADOW_VERSION"] = self.shadow_version
        if self.service is not None:
            env["INFERWATCH_SERVICE"] = self.service
        if self.model_path is not None:
            env["INFERWATCH_MODEL_PATH"] = self.model_path
            env["INFERWATCH_TASK"] = str(self.task)
        if self.input_name is not None:
            env["INFERWATCH_INPUT_NAME"] = self.input_name
        if self.feature_names is not None:
            env["INFERWATCH_FEATURE_NAMES"] = json.dumps(list(self.feature_names))
        if self.batch_max_rows is not None:
            env["INFERWATCH_BATCH_MAX_ROWS"] = str(self.batch_max_rows)
        if self.batch_max_wait_ms is not None:
            env["INFERWATCH_BATCH_MAX_WAIT_MS"] = repr(float(self.batch_max_wait_ms))
        env.update(self.faults.to_env())
        return env


def normalize_weights(weights: Mapping[str, float], known: Sequence[str], field_name: str) -> dict[str, float]:
    """Validate traffic weights (deployment -> share) and scale them to sum to 1."""
    if not weights:
        raise ConfigError(field_name, "no deployment has a weight (empty)")
    cleaned: dict[str, float] = {}
    for name, weight in weights.items():
        if name not in known:
            raise ConfigError(f"{field_name}.{name}", f"unknown deployment (known: {', '.join(known)})")
        _check_number(f"{field_name}.{name}", weight, minimum=0.0)
        cleaned[name] = float(weight)
    total = sum(cleaned.values())
    if total <= 0:
        raise ConfigError(field_name, "weights sum to 0: no deployment would get traffic")
    return {name: cleaned.get(name, 0.0) / total for name in known}


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """A public endpoint splitting traffic between deployments (blue/green, canary)."""

    name: str
    deployments: tuple[DeploymentConfig, ...]
    weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        _check_name("service.name", self.name)
        object.__setattr__(self, "deployments", tuple(self.deployments))
        if not self.deployments:
            raise ConfigError(f"{self.name}.deployments", "a service needs at least one deployment")
        names = [d.name for d in self.deployments]
        if len(set(names)) != len(names):
            raise ConfigError(f"{self.name}.deployments", f"duplicate deployment names in {names}")
        # Default: everything to the first deployment (the stable / blue one).
        raw = dict(self.weights) if self.weights else {names[0]: 1.0}
        object.__setattr__(
            self, "weights", MappingProxyType(normalize_weights(raw, names, f"{self.name}.weights"))
        )

    @property
    def deployment_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.deployments)


def check_services(services: Sequence[ServiceConfig]) -> None:
    """Service names and deployment names must be unique across the whole emulator."""
    if not services:
        raise ConfigError("services", "at least one service is required")
    seen_services: set[str] = set()
    seen_deployments: set[str] = set()
    for service in services:
        if not isinstance(service, ServiceConfig):
            raise ConfigError("services", f"{service!r} is not a ServiceConfig")
        if service.name in seen_services:
            raise ConfigError("services", f"duplicate service name {service.name!r}")
        seen_services.add(service.name)
        for deployment in service.deployments:
            if deployment.name in seen_deployments:
                raise ConfigError("services", f"deployment {deployment.name!r} is in two services")
            seen_deployments.add(deployment.name)
