"""A store filled the way collection fills it, for the exporter's tests and benchmark: an hour of
1-minute points for three deployments (one healthy with idle warm instances, one slow and failing with
every error cause, one on AWS with underused provisioned concurrency), collector runs (one collector
failing), a drift decision with five flagged signals, then what a collection round keeps and two real
runs of the alert job, so alerts are firing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from inferwatch.config import Settings, parse_settings
from inferwatch.schema import CollectionBatch, CollectionRun, Deployment, MetricPoint, Provider, Role, RunStatus
from inferwatch.schema import Metric as M
from inferwatch.store import KeptDecision, Store
from readmodels.exposition_kept import record_exposition_figures
from readmodels.overview import record_window_numbers
from readmodels.sections import validate_sections
from shell.alert_job import run_once
from shell.runtime import Runtime
from tests.alerts.builders import Clock

HEALTHY = Deployment(id="local:local:scorer-v1", provider=Provider.LOCAL, region="local", name="scorer-v1",
                     service="scorer", model_version="v1", role=Role.STABLE, memory_mb=512, min_instances=2)
FAILING = Deployment(id="local:local:scorer-v2", provider=Provider.LOCAL, region="local", name="scorer-v2",
                     service="scorer", model_version="v2", role=Role.CANARY, memory_mb=512, slo_p99_ms=200.0,
                     min_instances=1)
AWS = Deployment(id="aws:eu-west-1:reports", provider=Provider.AWS, region="eu-west-1", name="reports",
                 service="reports", model_version="v1", memory_mb=1024, provisioned_concurrency=4)
DEPLOYMENTS = (HEALTHY, FAILING, AWS)
FAILING_COLLECTOR = "gcp:proj:europe-west1:ranker"
MINUTES = 60

# Per minute: (invocations, p99 ms, server errors, timeouts, degraded, client errors, oom kills, throttles,
# cold starts, peak concurrency)
TRAFFIC = {HEALTHY.id: (100, 80.0, 0, 0, 0, 1, 0, 0, 1, 3),
           FAILING.id: (50, 450.0, 6, 2, 1, 3, 1, 4, 2, 7),
           AWS.id: (20, 120.0, 0, 0, 0, 0, 0, 1, 0, 2)}
SIGNALS = tuple({"signal": f"feature:f{i}", "check": "distribution", "statistic": "wasserstein",
                 "effect": 0.5 - 0.1 * i, "threshold": 0.1, "status": "drift" if i < 2 else "warn"} for i in range(5))


def minute_points(d: Deployment, at: datetime) -> list[MetricPoint]:
    inv, p99, server, timeouts, degraded, client, oom, throttles, cold, conc = TRAFFIC[d.id]
    values = {M.INVOCATIONS: inv, M.ROWS: 2 * inv, M.LATENCY_P50: p99 / 4, M.LATENCY_P95: p99 / 2,
              M.LATENCY_P99: p99, M.SERVER_ERRORS: server, M.TIMEOUTS: timeouts, M.DEGRADED: degraded,
              M.CLIENT_ERRORS: client, M.OOM_KILLS: oom, M.THROTTLES: throttles, M.COLD_STARTS: cold,
              M.CONCURRENCY_MAX: conc, M.DURATION_SUM: inv * p99 / 3, M.BILLED_DURATION_SUM: inv * p99 / 3,
              M.MEMORY_CONFIGURED: d.memory_mb or 512, M.MEMORY_MAX_USED: 150}
    if d.provisioned_concurrency:
        values |= {M.PROVISIONED_CONCURRENCY: d.provisioned_concurrency, M.PROVISIONED_UTILIZATION: 0.1}
    else:
        values |= {M.INSTANCES_ACTIVE: 0.5, M.INSTANCES_IDLE: max(d.min_instances - 0.5, 0.0)}
    return [MetricPoint(d.id, m.value, at, 60, float(v)) for m, v in values.items()]


def write_minutes(store: Store, deployments: Sequence[Deployment], now: datetime, minutes: int = MINUTES) -> None:
    """``minutes`` 1-minute steps ending at ``now`` (a minute boundary), one collector run per provider."""
    for provider in sorted({d.provider for d in deployments}):
        group = [d for d in deployments if d.provider == provider]
        points = [p for i in range(minutes, 0, -1) for d in group
                  for p in minute_points(d, now - timedelta(minutes=i))]
        collector = "local" if provider == Provider.LOCAL else f"{provider}:{group[0].region}"
        run = CollectionRun(uuid.uuid4().hex, collector, now, now, RunStatus.OK, now - timedelta(minutes=minutes),
                            now, len(points))
        store.write_batch(CollectionBatch(collector, deployments=tuple(group), points=tuple(points)), run)


def keep_round(store: Store, settings: Settings, now: datetime, deployments: Sequence[Deployment]) -> None:
    """What a collection round keeps after writing: the Overview's numbers, the exporter's figures
    (advice included) and a drift decision of the failing deployment (as record_drift saves it)."""
    record_window_numbers(store, settings, now)
    record_exposition_figures(store, settings, now, validate_sections(settings).prices)
    store.save_drift_decisions([KeptDecision(d.id, now, 900, 3, "baseline-v2", "drift" if d == FAILING else "ok",
                                             SIGNALS if d == FAILING else ()) for d in deployments])


@dataclass(frozen=True)
class FilledStore:
    url: str
    now: datetime
    runtime: Runtime


def fill(home: Path, now: datetime, *, url: str | None = None) -> FilledStore:
    """The store described in the module's docstring, at ``now`` (a minute boundary)."""
    url = url or f"sqlite:///{home / 'inferwatch.db'}"
    rt = Runtime(settings=parse_settings({}, source="test.toml"), home=home, store_url=url)
    store = Store.open(url)
    write_minutes(store, DEPLOYMENTS, now)
    store.record_run(CollectionRun(uuid.uuid4().hex, FAILING_COLLECTOR, now, now, RunStatus.FAILED,
                                   error="PermissionDenied: monitoring.timeSeries.list"))
    keep_round(store, rt.settings, now, DEPLOYMENTS)
    for minutes_ago in (6, 0):  # pending, then firing: ErrorRateHigh holds for 2 minutes
        run_once(rt, clock=Clock(now - timedelta(minutes=minutes_ago)))
    store.dispose()
    return FilledStore(url, now, rt)
