"""Builders for the alert tests: rules, evaluation data, filled stores and runtimes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.rules import MissingData, Rule, Severity
from alerts.series import EvalData
from inferwatch.config import parse_settings
from inferwatch.schema import CollectionBatch, CollectionRun, Deployment, MetricPoint
from inferwatch.store import Store
from shell.runtime import Runtime

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DEP = Deployment(id="local:local:scorer-v1", provider="local", region="local", name="scorer-v1", service="scorer")


def deployment(name: str, **kwargs: Any) -> Deployment:
    return Deployment(id=f"local:local:{name}", provider="local", region="local", name=name, service=name, **kwargs)


def error_rule(**kwargs: Any) -> Rule:
    base: dict[str, Any] = {"name": "Errors", "kind": "error_rate", "severity": Severity.PAGE,
                            "summary": "{entity}: {value:.0%} errors", "window_s": 300, "threshold": 0.05,
                            "missing_data": MissingData.NOT_BREACHING}
    return Rule(**(base | kwargs))


def traffic_points(dep: str, start: datetime, minutes: int, *, invocations: float = 100, errors: float = 0,
                   p99_ms: float = 50.0) -> list[MetricPoint]:
    out = []
    for i in range(minutes):
        at = start + timedelta(minutes=i)
        out += [MetricPoint(dep, "invocations_count", at, 60, invocations),
                MetricPoint(dep, "server_errors_count", at, 60, errors),
                MetricPoint(dep, "latency_p99_ms", at, 60, p99_ms)]
    return out


def data_with(points: Sequence[MetricPoint], deployments: Sequence[Deployment] = (DEP,), **kwargs: Any) -> EvalData:
    return EvalData.from_records(deployments, points, **kwargs)


def fill_store(store: Store, points: Sequence[MetricPoint], deployments: Sequence[Deployment] = (DEP,),
               at: datetime = T0) -> None:
    run = CollectionRun(uuid.uuid4().hex, "local", at, at, "ok", points_written=len(points))
    store.write_batch(CollectionBatch("local", deployments=tuple(deployments), points=tuple(points)), run)


def runtime(home: Path, raw: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Runtime:
    settings = parse_settings(dict(raw or {}), source="test.toml")
    return Runtime(settings=settings, home=home, store_url=f"sqlite:///{home / 'inferwatch.db'}", env=dict(env or {}))


class Clock:
    """A settable clock for the job (time is injected, never read)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
