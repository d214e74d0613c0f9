"""Lambda configuration: memory, architecture, timeout, versions, aliases with their routing weights,
reserved and provisioned concurrency, turned into normalized ``Deployment`` records.

Calls per function: ListVersionsByFunction (each version's configuration, ``$LATEST`` included),
ListAliases, GetFunctionConcurrency, ListProvisionedConcurrencyConfigs, each paged on its marker. They
are Lambda control-plane calls (15 per second per account and region by default), so configurations
are kept in the collector's cursor and re-read only when older than about ten minutes
(:class:`ConfigCache`): 100 functions cost 400 calls per ten minutes, not per collection.
"""

from __future__ import annotations

import threading
import time
import zlib
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


def config_state(config: FunctionConfig) -> dict[str, Any]:
    """A configuration as JSON (kept in the collector's cursor)."""
    return {"versions": {v: [c.memory_mb, c.architecture, c.timeout_s] for v, c in config.versions.items()},
            "aliases": {n: [a.version, dict(a.weights)] for n, a in config.aliases.items()},
            "reserved": config.reserved_concurrency, "provisioned": dict(config.provisioned)}


def config_from_state(function: str, doc: Mapping[str, Any]) -> FunctionConfig:
    """The configuration :func:`config_state` wrote (KeyError, TypeError or ValueError when it is not one)."""
    versions = {str(v): VersionConfig(str(v), int(m), str(a), float(t)) for v, (m, a, t) in doc["versions"].items()}
    aliases = {str(n): AliasConfig(str(n), str(v), {str(k): float(x) for k, x in w.items()})
               for n, (v, w) in doc["aliases"].items()}
    reserved = doc["reserved"]
    return FunctionConfig(function, versions, aliases, None if reserved is None else int(reserved),
                          {str(q): int(n) for q, n in doc["provisioned"].items()})


class ConfigCache:
    """Function configurations re-read after about ``max_age_s``: they change rarely, and the Lambda
    control plane allows few requests per second (4 calls per function add up at 100 functions).

    The cache lives in the collector's cursor (:meth:`state`, and ``state`` when built), so each
    ``inferwatch collect`` process, on whichever host takes the unit, starts from it. Each function's
    limit is ``max_age_s`` times 1 +/- ``spread`` (fixed per function name), so a fleet read in one
    round is re-read over several rounds, not all in one. Safe for threads."""

    def __init__(self, max_age_s: float = 600.0, clock: Callable[[], float] = time.time, *,
                 state: Mapping[str, Any] | None = None, spread: float = 0.25) -> None:
        self.max_age_s, self.spread, self._clock = max_age_s, spread, clock
        self._items: dict[str, tuple[float, FunctionConfig]] = {}
        self._lock = threading.Lock()
        for function, entry in (state or {}).items():
            try:
                self._items[str(function)] = (float(entry["at"]), config_from_state(str(function), entry["config"]))
            except (KeyError, TypeError, ValueError):  # a cursor of another version: read it again
                continue

    def _limit_s(self, function: str) -> float:
        fraction = zlib.crc32(function.encode()) / 0xFFFFFFFF  # stable across processes, unlike hash()
        return self.max_age_s * (1.0 + self.spread * (2.0 * fraction - 1.0))

    def get(self, reader: LambdaConfigReader, function: str) -> FunctionConfig:
        now = self._clock()
        with self._lock:
            cached = self._items.get(function)
        if cached is None or not 0 <= now - cached[0] < self._limit_s(function):
            cached = (now, reader.fetch(function))
            with self._lock:
                self._items[function] = cached
        return cached[1]

    def state(self, functions: Iterable[str]) -> dict[str, Any]:
        """The cached configurations of ``functions`` (the configured ones: others are dropped), as JSON."""
        with self._lock:
            return {f: {"at": self._items[f][0], "config": config_state(self._items[f][1])}
                    for f in sorted(set(functions)) if f in self._items}


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
