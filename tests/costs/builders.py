"""Record builders shared by the costs tests (real schema records, no fakes of project code)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from inferwatch.schema import Deployment, MetricPoint

T0 = datetime(2026, 11, 16, tzinfo=UTC)  # Monday of ISO week 2026-W47


def lam(name: str, *, memory_mb: int = 1024, architecture: str = "x86_64", pc: int = 0,
        service: str | None = None, version: str = "v1", region: str = "us-east-1") -> Deployment:
    return Deployment(id=f"aws:{region}:{name}", provider="aws", region=region, name=name,
                      service=service or name, model_version=version, memory_mb=memory_mb,
                      architecture=architecture, provisioned_concurrency=pc)


def run(name: str, *, memory_mb: int = 512, cpu: float = 1.0, min_instances: int = 0,
        billing_mode: str = "request", concurrency: int = 80, region: str = "us-central1") -> Deployment:
    return Deployment(id=f"gcp:{region}:{name}", provider="gcp", region=region, name=name, service=name,
                      memory_mb=memory_mb, cpu=cpu, min_instances=min_instances, billing_mode=billing_mode,
                      concurrency=concurrency)


def steady(deployment: str, values: Mapping[str, float], *, hours: int, step_s: int = 3600,
           start: datetime = T0) -> list[MetricPoint]:
    """The same values in every step."""
    steps = hours * 3600 // step_s
    return [MetricPoint(deployment, metric, start + timedelta(seconds=i * step_s), step_s, float(value))
            for i in range(steps) for metric, value in values.items()]
