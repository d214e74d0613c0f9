"""Cloud Run service configuration (Admin API v2) as Deployment records.

One record for the service (``gcp:<region>:<service>``, the template that new revisions get) and
one per revision that serves or is tagged (``gcp:<region>:<service>:<revision>``, that revision's
own settings and traffic share). Roles: the revision with the largest share is ``stable``, other
revisions with traffic are ``canary``, tagged revisions at 0% are ``green`` (deployed, not live).

Billing mode: ``cpu_idle`` true means CPU is only allocated during requests (request-based
billing); false means instance-based billing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.api_core import retry as gretry
from google.cloud import run_v2

from collectors.errors import ProviderDataError
from collectors.gcp_client import GOOGLE_ERRORS, PROVIDER, NotFound, Target, translate_error
from inferwatch.schema import Deployment, Provider, Role

GET_SERVICE_PERMISSION = "run.services.get"
GET_REVISION_PERMISSION = "run.revisions.get"
MODEL_VERSION_ENV = "INFERWATCH_MODEL_VERSION"
MODEL_VERSION_LABEL = "inferwatch-model-version"

_MEMORY_UNITS = {"": 1 / 2**20, "k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20, "T": 1e12 / 2**20,
                 "Ki": 1 / 2**10, "Mi": 1.0, "Gi": 2**10, "Ti": 2**20}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*$")


def parse_cpu(value: str) -> float:
    """vCPU from a Kubernetes CPU quantity: ``"1"``, ``"0.5"``, ``"1000m"``."""
    match = _QUANTITY.match(value)
    if not match or match.group(2) not in ("", "m"):
        raise ProviderDataError(f"cpu limit {value!r} is not a CPU quantity", provider=PROVIDER)
    number = float(match.group(1))
    return number / 1000 if match.group(2) == "m" else number


def parse_memory_mb(value: str) -> int:
    """MiB from a Kubernetes memory quantity: ``"512Mi"``, ``"1Gi"``, ``"2G"``, bytes."""
    match = _QUANTITY.match(value)
    if not match or match.group(2) not in _MEMORY_UNITS:
        raise ProviderDataError(f"memory limit {value!r} is not a memory quantity", provider=PROVIDER)
    return round(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The settings of one revision or template that matter for cost and capacity."""

    concurrency: int
    min_instances: int
    max_instances: int | None
    cpu: float | None
    memory_mb: int | None
    billing_mode: str
    timeout_s: float | None
    model_version: str


def read_settings(source: Any) -> RunSettings:
    """Settings of a ``run_v2.Revision`` or ``run_v2.RevisionTemplate`` (same field names)."""
    containers = list(source.containers)
    main = containers[0] if containers else None
    limits: Mapping[str, str] = dict(main.resources.limits) if main is not None else {}
    cpu = parse_cpu(limits["cpu"]) if "cpu" in limits else None
    memory = parse_memory_mb(limits["memory"]) if "memory" in limits else None
    throttled = bool(main.resources.cpu_idle) if main is not None and limits else True
    env = {e.name: e.value for c in containers for e in c.env}
    timeout = source.timeout.total_seconds() if "timeout" in source else None
    return RunSettings(
        concurrency=int(source.max_instance_request_concurrency) or 80,  # Cloud Run's default when unset
        min_instances=int(source.scaling.min_instance_count),
        max_instances=int(source.scaling.max_instance_count) or None,
        cpu=cpu, memory_mb=memory,
        billing_mode="request" if throttled else "instance",
        timeout_s=timeout or None,
        model_version=env.get(MODEL_VERSION_ENV) or dict(source.labels).get(MODEL_VERSION_LABEL, ""),
    )


@dataclass(frozen=True, slots=True)
class ServiceDefaults:
    """What the inferwatch.toml entry adds to the service record."""

    role: Role = Role.STABLE
    slo_p99_ms: float | None = None
    labels: Mapping[str, str] | None = None


def build_deployments(target: Target, service: run_v2.Service, revisions: Sequence[run_v2.Revision],
                      defaults: ServiceDefaults = ServiceDefaults()) -> list[Deployment]:
    """The service record and one record per revision with traffic or a tag (pure)."""
    template = read_settings(service.template)
    service_min = int(service.scaling.min_instance_count)
    records = [_deployment(target.service_id, target, target.service, template, role=defaults.role,
                           weight=1.0, slo=defaults.slo_p99_ms, labels=dict(defaults.labels or {}),
                           min_instances=max(service_min, template.min_instances))]
    shares, tags = _traffic(service)
    by_name = {r.name.rsplit("/", 1)[-1]: r for r in revisions}
    stable = max(shares, key=lambda n: (shares[n], n)) if shares else None
    for name in sorted(shares):
        revision = by_name.get(name)
        settings = read_settings(revision) if revision is not None else template
        role = Role.STABLE if name == stable else Role.CANARY if shares[name] > 0 else Role.GREEN
        labels = {"revision": name, **({"tag": tags[name]} if name in tags else {})}
        records.append(_deployment(target.revision_id(name), target, f"{target.service}:{name}", settings,
                                   role=role, weight=shares[name] / 100, slo=defaults.slo_p99_ms,
                                   labels=labels, min_instances=settings.min_instances))
    return records


def _traffic(service: run_v2.Service) -> tuple[dict[str, int], dict[str, str]]:
    latest_type = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
    shares: dict[str, int] = {}
    tags: dict[str, str] = {}
    for status in service.traffic_statuses:
        name = status.revision or (service.latest_ready_revision if status.type_ == latest_type else "")
        if not name:
            continue
        name = name.rsplit("/", 1)[-1]
        shares[name] = shares.get(name, 0) + int(status.percent)
        if status.tag:
            tags[name] = status.tag
    return shares, tags


def retired_revision(target: Target, revision: str) -> Deployment:
    """A revision that still reports metrics but is no longer in the traffic split (draining)."""
    return Deployment(id=target.revision_id(revision), provider=Provider.GCP, region=target.region,
                      name=f"{target.service}:{revision}", service=target.service, role=Role.CANARY,
                      traffic_weight=0.0, labels={"project": target.project, "revision": revision,
                                                  "serving": "false"})


def _deployment(dep_id: str, target: Target, name: str, s: RunSettings, *, role: Role, weight: float,
                slo: float | None, labels: dict[str, str], min_instances: int) -> Deployment:
    return Deployment(
        id=dep_id, provider=Provider.GCP, region=target.region, name=name, service=target.service,
        model_version=s.model_version, role=role, traffic_weight=weight, memory_mb=s.memory_mb, cpu=s.cpu,
        architecture="x86_64", timeout_s=s.timeout_s, concurrency=s.concurrency, min_instances=min_instances,
        max_instances=s.max_instances, billing_mode=s.billing_mode, slo_p99_ms=slo,
        labels={"project": target.project, **labels},
    )


def service_path(target: Target) -> str:
    return f"projects/{target.project}/locations/{target.region}/services/{target.service}"


def fetch_service(client: Any, target: Target, *, retry: gretry.Retry, timeout_s: float) -> run_v2.Service:
    """GetService, errors translated."""
    try:
        service: run_v2.Service = client.get_service(request=run_v2.GetServiceRequest(name=service_path(target)),
                                                     retry=retry, timeout=timeout_s)
        return service
    except GOOGLE_ERRORS as exc:
        raise translate_error(exc, action=f"GetService {service_path(target)}",
                              permission=GET_SERVICE_PERMISSION) from exc


def fetch_revision(client: Any, target: Target, revision: str, *, retry: gretry.Retry,
                   timeout_s: float) -> run_v2.Revision | None:
    """GetRevision (None if it was deleted meanwhile), errors translated.

    Only the revisions in the traffic split are fetched (usually one or two), not every revision
    the service ever had."""
    name = f"{service_path(target)}/revisions/{revision}"
    try:
        found: run_v2.Revision = client.get_revision(request=run_v2.GetRevisionRequest(name=name),
                                                     retry=retry, timeout=timeout_s)
        return found
    except NotFound:
        return None
    except GOOGLE_ERRORS as exc:
        raise translate_error(exc, action=f"GetRevision {name}", permission=GET_REVISION_PERMISSION) from exc


def traffic_revisions(service: run_v2.Service) -> list[str]:
    """Short names of the revisions in the service's traffic split (with traffic or a tag)."""
    return sorted(_traffic(service)[0])
