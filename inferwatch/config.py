"""``inferwatch.toml``: validated, with errors that name the bad field. Secrets never live here:
they come from the environment (names listed in the README).

With no file, the local demo deployments are the default, so ``inferwatch demo`` needs nothing.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from inferwatch.errors import ConfigError
from inferwatch.model_files import model_file_problem
from inferwatch.names import name_problem
from inferwatch.schema import Deployment, Provider, Role, deployment_id


def _valid_name(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise PydanticCustomError("invalid_name", "{problem}", {"problem": problem})
    return value


# Deployment, service and version names become file names, ids and metric dimensions (inferwatch.names).
Name = Annotated[str, AfterValidator(_valid_name)]


class _Section(BaseModel):
    # inf and nan parse as TOML floats but are no setting's value (an SLO of inf never breaches).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StoreSection(_Section):
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value and "@" in value.split("://", 1)[-1].split("/", 1)[0] and ":" in value.split("://",
                                                                                              1)[-1].split("@")[0]:
            raise ValueError("must not contain a password: set INFERWATCH_STORE_URL in the environment instead")
        return value


class CollectSection(_Section):
    step_s: Literal[60, 300, 3600] = 60
    lateness_s: int = Field(300, ge=0, le=86_400)  # re-read this much before the last complete window
    lookback_s: int = Field(3600, ge=60, le=14 * 86_400)  # how far back a first run starts
    interval_s: int = Field(60, ge=5)
    # AWS/Lambda metrics of functions that write the probe's window lines are read at most this often (0: every
    # collection). GetMetricData is billed per metric requested, whatever the steps it returns (docs/cloud.md).
    cloud_metrics_interval_s: int = Field(0, ge=0, le=86_400)
    workers: int = Field(4, ge=1, le=64)
    # How long a collector process's claim on a unit (account-region, service) outlives its last renewal:
    # a process that dies leaves its units to others after this long (renewed every third of it).
    lease_s: int = Field(60, ge=3, le=3600)
    # Telemetry dated outside [now - max_age_s, now + max_ahead_s] is quarantined, not stored: a clock
    # off by years must not zero-fill years of steps, nor a line dated a year ahead hold a file's offset.
    max_age_s: int = Field(14 * 86_400, ge=3600, le=366 * 86_400)
    max_ahead_s: int = Field(300, ge=0, le=86_400)


class SloSection(_Section):
    p99_ms: float = Field(250.0, gt=0)
    availability: float = Field(0.999, gt=0, lt=1)
    cold_start_rate: float = Field(0.10, gt=0, le=1)  # advice compares rates with it: 0 would refuse every one


class DashboardSection(_Section):
    address: str = "127.0.0.1"
    port: int = Field(8501, ge=1, le=65535)
    refresh_s: int = Field(30, ge=5)


class _DeploymentBase(_Section):
    service: Name | None = None
    role: Role = Role.STABLE
    traffic_weight: float = Field(1.0, ge=0, le=1)
    slo_p99_ms: float | None = Field(None, gt=0)
    labels: dict[str, str] = Field(default_factory=dict)


# The emulator's reference models (reference_service.model.VERSIONS; a test keeps the two equal): a local
# deployment serves one of them unless it names a model file of its own.
REFERENCE_VERSIONS = ("v1", "v2")
TASKS = ("binary", "multiclass", "regression")


class LocalDeploymentConfig(_DeploymentBase):
    provider: Literal["local"]
    name: Name
    model_version: Name = "v1"
    # a model of your own: the ONNX file, what its outputs mean, and (if needed) the input the rows go to
    # and the names of a 2-D input's columns
    model_path: str | None = Field(None, min_length=1)
    task: Literal["binary", "multiclass", "regression"] | None = None
    input_name: str | None = Field(None, min_length=1)
    feature_names: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(None, min_length=1)
    memory_mb: int = Field(512, ge=128, le=10_240)
    timeout_s: float = Field(10.0, gt=0, le=900)
    concurrency: int = Field(4, ge=1, le=1000)
    min_instances: int = Field(0, ge=0, le=100)
    max_instances: int = Field(8, ge=1, le=100)
    keep_alive_s: float = Field(30.0, gt=0)
    shadow_version: Name | None = None
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    # fault injection, so the demo has slow answers and errors to show
    fault_slow_rate: float = Field(0.0, ge=0, le=1)
    fault_slow_ms: float = Field(0.0, ge=0)
    fault_error_rate: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _instances(self) -> LocalDeploymentConfig:
        if self.min_instances > self.max_instances:
            raise ValueError("min_instances must not exceed max_instances")
        return self

    @field_validator("model_path")
    @classmethod
    def _relative_to_the_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A relative model_path is relative to the config file's folder (where it was written)."""
        base = (info.context or {}).get("base") if isinstance(info.context, Mapping) else None
        if value is None or base is None or "\x00" in value or Path(value).expanduser().is_absolute():
            return value
        return str(Path(base) / value)

    @model_validator(mode="after")
    def _model(self) -> LocalDeploymentConfig:
        if self.shadow_version is not None and self.shadow_version not in REFERENCE_VERSIONS:
            raise ValueError(f"shadow_version {self.shadow_version!r}: shadow scoring runs a reference model, "
                             f"{' or '.join(REFERENCE_VERSIONS)}")
        if self.model_path is None:
            if self.model_version not in REFERENCE_VERSIONS:
                raise ValueError(f"model_version {self.model_version!r}: the emulator serves the reference models "
                                 f"{' and '.join(REFERENCE_VERSIONS)}; set model_path (and task) to serve your own "
                                 "ONNX file")
            if self.task is not None or self.input_name is not None or self.feature_names is not None:
                raise ValueError("task, input_name and feature_names go with model_path")
            return self
        if self.task is None:
            raise ValueError(f"model_path needs task: one of {', '.join(TASKS)}")
        if self.shadow_version is not None:
            raise ValueError("shadow_version compares the reference models only: remove it or model_path")
        problem = model_file_problem(self.model_path, self.input_name)
        if problem is not None:
            raise ValueError(f"model_path {problem}")
        return self


class AwsDeploymentConfig(_DeploymentBase):
    provider: Literal["aws"]
    region: Name
    function: Name
    aliases: list[Name] = Field(default_factory=list)  # also versions; each becomes a deployment
    profile: str | None = None
    role_arn: str | None = None
    log_group: str | None = None
    cost_allocation_tag: str | None = None


class GcpDeploymentConfig(_DeploymentBase):
    provider: Literal["gcp"]
    project: str = Field(min_length=1)
    region: Name
    service_name: Name
    billing_export_table: str | None = None


DeploymentConfig = Annotated[
    LocalDeploymentConfig | AwsDeploymentConfig | GcpDeploymentConfig, Field(discriminator="provider")
]


def default_local_deployments() -> list[DeploymentConfig]:
    """The demo: v1 stable (shadow-scoring v2) and v2 as a 10% canary of the same service, and a
    reports service. Each gives the cost advice something real to find: v1 keeps one warm instance
    that the scorer's bursts of traffic spill over, v2 runs on arm64 next to v1 on x86_64, reports-v1
    keeps three warm instances it hardly uses, and all three are given far more memory than they use."""
    return [
        LocalDeploymentConfig(provider="local", name="scorer-v1", service="scorer", model_version="v1",
                              role=Role.STABLE, traffic_weight=0.9, shadow_version="v2", min_instances=1),
        LocalDeploymentConfig(provider="local", name="scorer-v2", service="scorer", model_version="v2",
                              role=Role.CANARY, traffic_weight=0.1, architecture="arm64",
                              fault_slow_rate=0.03, fault_slow_ms=120.0, fault_error_rate=0.005),
        LocalDeploymentConfig(provider="local", name="reports-v1", service="reports", model_version="v1",
                              min_instances=3),
    ]


class Settings(_Section):
    store: StoreSection = StoreSection()
    collect: CollectSection = CollectSection()
    slo: SloSection = SloSection()
    dashboard: DashboardSection = DashboardSection()
    deployments: list[DeploymentConfig] = Field(default_factory=default_local_deployments)
    # Sections validated by the packages that own them (drift/, alerts/, costs/).
    drift: dict[str, Any] = Field(default_factory=dict)
    alerts: dict[str, Any] = Field(default_factory=dict)
    notifiers: dict[str, Any] = Field(default_factory=dict)
    prices: dict[str, Any] = Field(default_factory=dict)
    source_path: str | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        seen: set[str] = set()
        for d in self.deployments:
            key = _config_key(d)
            if key in seen:
                raise ValueError(f"deployment {key} is listed twice")
            seen.add(key)
        return self

    def of_provider(self, provider: str) -> list[Any]:
        return [d for d in self.deployments if d.provider == provider]


def _config_key(d: LocalDeploymentConfig | AwsDeploymentConfig | GcpDeploymentConfig) -> str:
    if isinstance(d, LocalDeploymentConfig):
        return deployment_id("local", "local", d.name)
    if isinstance(d, AwsDeploymentConfig):
        return deployment_id("aws", d.region, d.function)
    return deployment_id("gcp", d.region, d.service_name)


def local_deployment(d: LocalDeploymentConfig) -> Deployment:
    """The normalized record of a local emulated deployment."""
    return Deployment(
        id=deployment_id(Provider.LOCAL, "local", d.name), provider=Provider.LOCAL, region="local",
        name=d.name, service=d.service or d.name, model_version=d.model_version, role=d.role,
        traffic_weight=d.traffic_weight, memory_mb=d.memory_mb, architecture=d.architecture,
        timeout_s=d.timeout_s, concurrency=d.concurrency, min_instances=d.min_instances,
        max_instances=d.max_instances, slo_p99_ms=d.slo_p99_ms, labels=dict(d.labels))


def home_from_env(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("INFERWATCH_HOME") or ".inferwatch")


def config_path_from_env(env: Mapping[str, str] = os.environ) -> Path | None:
    explicit = env.get("INFERWATCH_CONFIG")
    if explicit:
        return Path(explicit)
    candidate = Path("inferwatch.toml")
    return candidate if candidate.exists() else None


def load_settings(path: Path | None = None, env: Mapping[str, str] = os.environ) -> Settings:
    """Read and validate the config; ``path`` beats ``INFERWATCH_CONFIG`` beats ./inferwatch.toml."""
    path = path or config_path_from_env(env)
    if path is None:
        return Settings()
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist", path=str(path)) from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: cannot be read: it is a folder, not a file", path=str(path)) from exc
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise ConfigError(f"{path}: not UTF-8: byte 0x{byte:02x} at offset {exc.start} cannot be decoded "
                          "(save the file as UTF-8)", path=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", path=str(path)) from exc
    except RecursionError as exc:  # tomllib recurses once per level of nested arrays and tables
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply", path=str(path)) from exc
    return parse_settings(raw, source=str(path))


def parse_settings(raw: Mapping[str, Any], *, source: str = "<config>") -> Settings:
    """Validate a parsed config. Non-finite numbers are refused anywhere in it, in the sections the
    domain packages validate later too: no setting means anything with inf or nan."""
    bad = _non_finite(raw, "")
    if bad is not None:
        raise ConfigError(f"{source}: {bad}: must be a finite number", field=bad, path=source)
    base = str(Path(source).resolve().parent) if source != "<config>" else None
    try:
        return Settings.model_validate({**raw, "source_path": source}, context={"base": base} if base else None)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field_path(first["loc"])
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: {field}: {first['msg']}{more}", field=field, path=source) from exc


def _non_finite(value: Any, path: str) -> str | None:
    """The dotted path of the first inf or nan in a parsed TOML document, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "<config>"
    if isinstance(value, Mapping):
        items: Any = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for child_path, child in items:
        found = _non_finite(child, child_path)
        if found is not None:
            return found
    return None


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("local", "aws", "gcp") and out.endswith("]"):
            continue  # the discriminator tag pydantic inserts into the location
        else:
            out += f".{part}" if out else str(part)
    return out
