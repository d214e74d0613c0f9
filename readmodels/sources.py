"""Freshness of each collector: last run, last success, staleness and errors, how many inputs it
quarantined, and which host collects it (its lease: several hosts may share one store) (Sources page,
banner)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inferwatch.config import Settings
from inferwatch.schema import CollectionRun
from inferwatch.store import Store


@dataclass(frozen=True, slots=True)
class SourceHealth:
    collector: str
    last_run: datetime
    last_status: str
    last_success: datetime | None
    staleness_s: float | None  # since the last successful run; None if it never succeeded
    consecutive_failures: int
    last_error: str | None
    warnings: tuple[str, ...]
    quarantined_count: int = 0  # inputs it set aside, ever (each counted once); a sample is in the store
    host: str | None = None  # where the process that last took its lease runs (several hosts may collect)
    collecting_now: bool = False  # that process holds the lease at ``now``

    @property
    def state(self) -> str:
        if self.last_success is None or self.consecutive_failures >= 3:
            return "failing"
        if self.last_status == "failed":
            return "degraded"
        return "ok"

    def is_stale(self, max_age_s: float) -> bool:
        return self.staleness_s is None or self.staleness_s > max_age_s


def stale_after_s(settings: Settings) -> float:
    """A source is stale after missing about three collection intervals (at least three minutes):
    the dashboard's banner says so, and the Overview stops trusting the numbers collection kept."""
    return max(180.0, 3.0 * settings.collect.interval_s)


def source_health(store: Store, now: datetime, *, history: int = 500) -> list[SourceHealth]:
    runs = store.load_runs(limit=history)  # newest first
    quarantined = store.quarantine_counts()
    leases = {lease.unit: lease for lease in store.load_leases()}
    by_collector: dict[str, list[CollectionRun]] = {}
    for run in runs:
        by_collector.setdefault(run.collector, []).append(run)
    out = []
    for collector, items in sorted(by_collector.items()):
        failures = 0
        for run in items:
            if run.status != "failed":
                break
            failures += 1
        success = next((r for r in items if r.status != "failed"), None)
        latest = items[0]
        out.append(SourceHealth(
            collector=collector, last_run=latest.finished_at, last_status=latest.status,
            last_success=success.finished_at if success else None,
            # A run that finished after ``now`` (a page's time, rounded down so its cache can be shared)
            # is fresh, not -1 s old.
            staleness_s=max((now - success.finished_at).total_seconds(), 0.0) if success else None,
            consecutive_failures=failures, last_error=next((r.error for r in items if r.error), None),
            warnings=latest.warnings, quarantined_count=quarantined.get(collector, 0),
            host=leases[collector].host if collector in leases else None,
            collecting_now=collector in leases and leases[collector].held_at(now)))
    return out
