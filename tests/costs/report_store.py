"""A fixed store for the report tests: two weeks of hourly data written through Store.write_batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inferwatch.schema import CollectionBatch, CollectionRun, CostRecord, Deployment, MetricPoint
from inferwatch.store import Store
from tests.costs.builders import T0, lam, run, steady

WEEK = timedelta(days=7)
PREV = T0 - WEEK


def write(store: Store, deployments: Sequence[Deployment], points: Sequence[MetricPoint],
          costs: Sequence[CostRecord] = ()) -> None:
    at = datetime(2026, 11, 24, tzinfo=UTC)
    store.write_batch(CollectionBatch("test", tuple(deployments), tuple(points), costs=tuple(costs)),
                      CollectionRun("run-" + str(len(points)), "test", at, at, "ok", points_written=len(points)))


def fixed_store(path: Path) -> Store:
    store = Store.open(f"sqlite:///{path}")
    scorer = lam("scorer", pc=10, service="scorer", version="v1")
    arm = lam("scorer-arm", architecture="arm64", service="scorer", version="v2")
    api = run("api", min_instances=1)
    pc = {"provisioned_concurrency_count": 10, "provisioned_utilization_ratio": 0.12}
    points = steady(scorer.id, {"invocations_count": 3600, "rows_count": 7200, "duration_sum_ms": 3600 * 50.0,
                                **pc}, hours=168, step_s=3600)
    points += steady(scorer.id, {"invocations_count": 3000, "rows_count": 3000, "duration_sum_ms": 3000 * 50.0,
                                 **pc}, hours=168, step_s=3600, start=PREV)
    points += steady(arm.id, {"invocations_count": 1000, "duration_sum_ms": 1000 * 55.0, "latency_p95_ms": 90},
                     hours=72, step_s=3600, start=T0 + timedelta(days=4))
    for start in (PREV, T0):
        points += steady(api.id, {"invocations_count": 600, "billable_instance_s": 300,
                                  "instances_active_count": 0.1, "instances_idle_count": 1.0},
                         hours=168, step_s=3600, start=start)
    billed = [CostRecord(scorer.id, T0 + timedelta(days=i), "Lambda-GB-Second", 4.2, 100.0, "GB-s", False, "ce")
              for i in range(7)]
    write(store, [scorer, arm, api], points, billed)
    return store
