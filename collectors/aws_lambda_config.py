"""Lambda configuration: memory, architecture, timeout, versions, aliases with their routing weights,
reserved and provisioned concurrency, turned into normalized ``Deployment`` records.

Calls per function: ListVersionsByFunction (each version's configuration, ``$LATEST`` included),
ListAliases, GetFunctionConcurrency, ListProvisionedConcurrencyConfigs, each paged on its marker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collectors.aws_client import call_aws
from inferwatch.schema import Deployment, MetricPoint, Provider, Role, deployment_id
from inferwatch.schema import Metric as M

MAX_PAGES = 1000


@dataclass(frozen=True, slots=True)
class VersionConfig:
    version: str
    memory_mb: int
    architecture: str
    timeout_s: float


@dataclass(frozen=True, slots=True)
class AliasConfig:
    name: str
    version: str
    weights: Mapping[str, float] = field(default_factory=dict)  # additional version -> share of traffic

    def routing(self) -> dict[str, float]:
        """Share of the alias's traffic per version (the primary gets what the others leave)."""
        out = dict(self.weights)
        out[self.version] = max(0.0, 1.0 - sum(self.weights.values()))
        return out


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    function: str
    versions: Mapping[str, VersionConfig]
    aliases: Mapping[str, AliasConfig]
    reserved_concurrency: int | None
    provisioned: Mapping[str, int]  # qualifier (alias or version) -> allocated provisioned concurrency

    def version_of(self, qualifier: str) -> str:
        """The version a qualifier names (an alias resolves to its primary version)."""
        alias = self.aliases.get(qualifier)
        return alias.version if alias is not None else qualifier

    def log_targets(self, targets: Iterable[tuple[str, str]]) -> tuple[dict[str, list[str]], list[str]]:
        """Version -> ids of the deployments whose log records it carries, from (qualifier, deployment
        id) pairs. Log streams name the version only, so a weighted alias (traffic split over versions
        also reachable otherwise) gets none: its ids are returned second."""
        out: dict[str, list[str]] = {}
        weighted: list[str] = []
        for qualifier, dep_id in targets:
            alias = self.aliases.get(qualifier)
            if alias is not None and alias.weights:
                weighted.append(dep_id)
            else:
                out.setdefault(self.version_of(qualifier), []).append(dep_id)
        return out, weighted


class LambdaConfigReader:
    """Reads one function's configuration; botocore errors stop here."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0

    def fetch(self, function: str) -> FunctionConfig:
        versions = {}
        for item in self._paged("list_versions_by_function", "Versions", FunctionName=function):
            arch = (item.get("Architectures") or ["x86_64"])[0]
            versions[str(item["Version"])] = VersionConfig(str(item["Version"]), int(item["MemorySize"]), str(arch),
                                                           float(item["Timeout"]))
        aliases = {}
        for item in self._paged("list_aliases", "Aliases", FunctionName=function):
            weights = (item.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            aliases[str(item["Name"])] = AliasConfig(str(item["Name"]), str(item["FunctionVersion"]),
                                                     {str(k): float(v) for k, v in weights.items()})
        reserved = self._call("get_function_concurrency", FunctionName=function).get("ReservedConcurrentExecutions")
        provisioned = {}
        for item in self._paged("list_provisioned_concurrency_configs", "ProvisionedConcurrencyConfigs",
                                FunctionName=function):
            qualifier = str(item["FunctionArn"]).rsplit(":", 1)[-1]
            provisioned[qualifier] = int(item.get("AllocatedProvisionedConcurrentExecutions", 0))
        return FunctionConfig(function, versions, aliases, None if reserved is None else int(reserved), provisioned)

    def _paged(self, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        marker: str | None = None
        for _ in range(MAX_PAGES):
            response = self._call(operation, **kwargs, **({"Marker": marker} if marker else {}))
            yield from response.get(key, [])
            next_marker = response.get("NextMarker")
            if not next_marker or next_marker == marker:
                return
            marker = next_marker

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return call_aws(self._client, "lambda", operation, kwargs)


class ConfigCache:
    """Function configurations re-read after ``max_age_s``: they change rarely, and the Lambda control
    plane allows few requests per second (4 calls per function per collection add up at 100 functions)."""

    def __init__(self, max_age_s: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s, self._clock = max_age_s, clock
        self._items: dict[str, tuple[float, FunctionConfig]] = {}

    def get(self, reader: LambdaConfigReader, function: str) -> FunctionConfig:
        now = self._clock()
        cached = self._items.get(function)
        if cached is None or now - cached[0] >= self.max_age_s:
            cached = (now, reader.fetch(function))
            self._items[function] = cached
        return cached[1]


def build_deployments(region: str, config: FunctionConfig, qualifiers: Sequence[str], *,
                      service: str | None = None, role: Role = Role.STABLE, slo_p99_ms: float | None = None,
                      labels: Mapping[str, str] | None = None) -> list[Deployment]:
    """The whole function (its ``$LATEST`` settings) plus one deployment per alias or version."""
    base_labels = dict(labels or {})
    out = [_deployment(region, config, None, service, role, slo_p99_ms, base_labels)]
    out += [_deployment(region, config, q, service, role, slo_p99_ms, base_labels) for q in qualifiers]
    return out


def _deployment(region: str, config: FunctionConfig, qualifier: str | None, service: str | None, role: Role,
                slo_p99_ms: float | None, labels: dict[str, str]) -> Deployment:
    fn = config.function
    version = config.version_of(qualifier) if qualifier else "$LATEST"
    vc = config.versions.get(version) or config.versions.get("$LATEST")
    extra = dict(labels)
    if qualifier is not None:
        extra["qualifier"] = qualifier
        extra["version"] = version
        alias = config.aliases.get(qualifier)
        if alias is not None and alias.weights:
            extra["routing"] = ",".join(f"{v}={w:g}" for v, w in sorted(alias.routing().items()))
    if config.reserved_concurrency is not None:
        extra["reserved_concurrency"] = str(config.reserved_concurrency)
    name = fn if qualifier is None else f"{fn}:{qualifier}"
    pc = sum(config.provisioned.values()) if qualifier is None else config.provisioned.get(qualifier, 0)
    return Deployment(
        id=deployment_id(Provider.AWS.value, region, name), provider=Provider.AWS, region=region, name=name,
        service=service or fn, role=role, memory_mb=vc.memory_mb if vc else None,
        architecture=vc.architecture if vc else "x86_64", timeout_s=vc.timeout_s if vc else None,
        concurrency=1, provisioned_concurrency=pc, max_instances=config.reserved_concurrency,
        slo_p99_ms=slo_p99_ms, labels=extra)


def provisioned_points(deployments: Sequence[Deployment], steps: Sequence[datetime], step_s: int) -> list[MetricPoint]:
    """Configured warm capacity per step where there is any (from the Lambda API, not a metric)."""
    return [MetricPoint(d.id, M.PROVISIONED_CONCURRENCY, step, step_s, float(d.provisioned_concurrency))
            for d in deployments if d.provisioned_concurrency > 0 for step in steps]
