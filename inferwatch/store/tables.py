"""Table definitions (SQLAlchemy Core) and how records map to rows. Times are stored as integer epoch
seconds (UTC) so that
bucketing for rollups is plain integer arithmetic on SQLite and PostgreSQL alike.

``metric_rollups`` holds hourly sums, maxima and counts of ``metric_points``; the store keeps it in
step inside every ``write_batch`` transaction so long ranges never scan minute data."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from inferwatch.schema import (
    CollectionRun,
    CostRecord,
    Deployment,
    HistogramPoint,
    MetricPoint,
    Provider,
    Role,
    RunStatus,
)
from inferwatch.store.engine import load_json
from inferwatch.store.errors import StoreDataError, StoreInputError

metadata = MetaData()

deployments = Table(
    "deployments",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("provider", String(20), nullable=False),
    Column("region", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("service", String(255), nullable=False),
    Column("config", JSON, nullable=False),  # the remaining Deployment fields
    Column("updated_at", BigInteger, nullable=False),
)

metric_points = Table(
    "metric_points",
    metadata,
    Column("deployment_id", String(300), primary_key=True),
    Column("metric", String(64), primary_key=True),
    Column("step_s", Integer, primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("value", Float, nullable=False),
)
# Range reads over every deployment (the overview's last hour, the alert job's windows, rollup edges)
# filter on step and time only; the primary key leads with the deployment and cannot serve them. The
# index carries the whole row, so those reads never visit the table: 5x faster for the overview's
# status at 50 deployments x 30 days (bench/dashboard_overview.py), for about 45 bytes more per point.
Index("ix_metric_points_window", metric_points.c.step_s, metric_points.c.ts, metric_points.c.deployment_id,
      metric_points.c.metric, metric_points.c.value)
# Indexes earlier versions made, dropped when a store is opened (the ones above replace them).
OBSOLETE_INDEXES = ("ix_metric_points_step_ts",)

ROLLUP_STEP_S = 3600

metric_rollups = Table(
    "metric_rollups",
    metadata,
    Column("deployment_id", String(300), primary_key=True),
    Column("metric", String(64), primary_key=True),
    Column("step_s", Integer, primary_key=True),  # step of the points rolled up
    Column("ts", BigInteger, primary_key=True),  # start of the hour (epoch seconds)
    Column("value_sum", Float, nullable=False),
    Column("value_max", Float, nullable=False),
    Column("sample_count", Integer, nullable=False),
    # SQLite keeps the rows in key order, so a deployment's month of hours is one contiguous read
    # (the Overview's 30-day trends: 72,000 rollups for 50 deployments), not one lookup per row.
    sqlite_with_rowid=False,
)
Index("ix_metric_rollups_step_ts", metric_rollups.c.step_s, metric_rollups.c.ts)

histograms = Table(
    "histograms",
    metadata,
    Column("deployment_id", String(300), primary_key=True),
    Column("signal", String(255), primary_key=True),
    Column("step_s", Integer, primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("baseline_id", String(128), nullable=False),
    Column("counts", JSON, nullable=False),
)

# A baseline belongs to one service's model (ModelKey: service, version, sha256). ``service`` is '' for
# rows made before baselines were keyed by service (an upgraded store): listed, never looked up.
baselines = Table(
    "baselines",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("service", String(64), nullable=False, server_default=""),
    Column("model_version", String(64), nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("source", String(255), nullable=False),
    Column("payload", JSON, nullable=False),
)
Index("ix_baselines_key", baselines.c.service, baselines.c.model_version, baselines.c.created_at)
# Columns earlier versions lacked, added when a store is opened: table -> (column, its DDL type and default).
ADDED_COLUMNS = {"baselines": (("service", "VARCHAR(64) NOT NULL DEFAULT ''"),)}

# The bins files exported for probes (docs/telemetry.md, drift/probe_bins.py), kept byte for byte: a
# window line names its bins file by the sha256 of those bytes.
probe_bins = Table(
    "probe_bins",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("baseline_id", String(128), nullable=False, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("content", Text, nullable=False),
)

# The latest drift decision per deployment, made when its histograms were collected: pages that
# show every deployment read one row each instead of re-deciding from thousands of histograms.
drift_statuses = Table(
    "drift_statuses",
    metadata,
    Column("deployment_id", String(300), primary_key=True),
    Column("evaluated_at", BigInteger, nullable=False),  # the end of the newest window
    Column("window_s", Integer, nullable=False),
    Column("n_windows", Integer, nullable=False),
    Column("baseline_id", String(128), nullable=False),
    Column("status", String(24), nullable=False),
    Column("signals", JSON, nullable=False),  # the warn/drift results of the newest window
)

kept_windows = Table(
    "kept_windows",
    metadata,
    Column("window_s", Integer, primary_key=True),
    Column("computed_at", BigInteger, nullable=False),  # the "now" the numbers were computed for
    Column("statuses", JSON, nullable=False),  # readmodels.status.DeploymentStatus.as_dict() per deployment
    Column("costs", JSON, nullable=False),  # deployment -> [usd, predictions]
)

costs = Table(
    "costs",
    metadata,
    Column("scope", String(300), primary_key=True),
    Column("day", BigInteger, primary_key=True),
    Column("usage_type", String(128), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("cost_usd", Float, nullable=False),
    Column("usage_quantity", Float, nullable=False),
    Column("usage_unit", String(32), nullable=False),
    Column("estimated", Boolean, nullable=False),
)

collection_runs = Table(
    "collection_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("collector", String(255), nullable=False, index=True),
    Column("started_at", BigInteger, nullable=False, index=True),
    Column("finished_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("window_start", BigInteger),
    Column("window_end", BigInteger),
    Column("points_written", Integer, nullable=False),
    Column("error", Text),
    Column("warnings", JSON, nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("collector", String(255), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)


# -- rows <-> records ---------------------------------------------------------------------------

_DEPLOYMENT_CONFIG_FIELDS = tuple(
    f.name for f in dataclasses.fields(Deployment) if f.name not in ("id", "provider", "region", "name", "service")
)


def to_epoch(ts: datetime, field: str = "time") -> int:
    """Epoch seconds of a tz-aware time; a naive one is refused (never guessed to be UTC)."""
    if ts.tzinfo is None:
        raise StoreInputError(f"{field}: naive datetime {ts.isoformat()} (times must be tz-aware UTC)", field=field)
    return int(ts.timestamp())


def from_epoch(value: int) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


def point_row(p: MetricPoint) -> dict[str, Any]:
    value = float(p.value)
    if not math.isfinite(value):  # SQLite would store NaN as NULL; PostgreSQL would keep it for charts
        raise StoreInputError(f"{_point_name(p)}: value {value} is not finite", field="value")
    if p.step_s <= 0:
        raise StoreInputError(f"{_point_name(p)}: step_s must be positive, got {p.step_s}", field="step_s")
    return {"deployment_id": p.deployment, "metric": p.metric, "step_s": p.step_s,
            "ts": to_epoch(p.start, "start"), "value": value}


def _point_name(p: MetricPoint) -> str:
    return f"metric point {p.deployment} {p.metric} at {p.start.isoformat()}"


def baseline_payload(baseline_id: str, text: str | None) -> dict[str, Any]:
    """A baseline's payload read as text and decoded here, so that a corrupted row (not JSON, or
    JSON that is not an object) raises :class:`StoreDataError` naming it instead of failing the read."""
    try:
        payload = load_json(text) if text is not None else None
    except (ValueError, RecursionError) as exc:
        raise StoreDataError("baselines", baseline_id, f"payload is not JSON ({exc})") from exc
    if not isinstance(payload, dict):
        raise StoreDataError("baselines", baseline_id, f"payload is not a JSON object but {type(payload).__name__}")
    return payload


def histogram_row(h: HistogramPoint) -> dict[str, Any]:
    return {"deployment_id": h.deployment, "signal": h.signal, "step_s": h.step_s,
            "ts": to_epoch(h.start, "histogram start"), "baseline_id": h.baseline_id, "counts": dict(h.counts)}


def histogram_from_row(r: Mapping[Any, Any]) -> HistogramPoint:
    return HistogramPoint(r["deployment_id"], r["signal"], from_epoch(r["ts"]), r["step_s"], r["baseline_id"],
                          r["counts"])


def cost_row(c: CostRecord) -> dict[str, Any]:
    return {"scope": c.scope, "day": to_epoch(c.day, "day"), "usage_type": c.usage_type, "source": c.source,
            "cost_usd": c.cost_usd, "usage_quantity": c.usage_quantity, "usage_unit": c.usage_unit,
            "estimated": c.estimated}


def cost_from_row(r: Mapping[Any, Any]) -> CostRecord:
    return CostRecord(r["scope"], from_epoch(r["day"]), r["usage_type"], r["cost_usd"], r["usage_quantity"],
                      r["usage_unit"], r["estimated"], r["source"])


def deployment_row(d: Deployment, updated_s: int) -> dict[str, Any]:
    config = {name: getattr(d, name) for name in _DEPLOYMENT_CONFIG_FIELDS}
    config["labels"] = dict(d.labels)
    return {"id": d.id, "provider": d.provider, "region": d.region, "name": d.name, "service": d.service,
            "config": config, "updated_at": updated_s}


def deployment_from_row(row: Mapping[Any, Any]) -> Deployment:
    known = {k: v for k, v in dict(row["config"]).items() if k in _DEPLOYMENT_CONFIG_FIELDS}
    if "role" in known:
        known["role"] = Role(known["role"])
    return Deployment(id=row["id"], provider=Provider(row["provider"]), region=row["region"], name=row["name"],
                      service=row["service"], **known)


def run_row(run: CollectionRun) -> dict[str, Any]:
    return {"id": run.id, "collector": run.collector, "started_at": to_epoch(run.started_at, "started_at"),
            "finished_at": to_epoch(run.finished_at, "finished_at"), "status": run.status,
            "window_start": to_epoch(run.window_start, "window_start") if run.window_start else None,
            "window_end": to_epoch(run.window_end, "window_end") if run.window_end else None,
            "points_written": run.points_written, "error": run.error, "warnings": list(run.warnings)}


def run_from_row(x: Mapping[Any, Any]) -> CollectionRun:
    return CollectionRun(
        id=x["id"], collector=x["collector"], started_at=from_epoch(x["started_at"]),
        finished_at=from_epoch(x["finished_at"]), status=RunStatus(x["status"]),
        window_start=from_epoch(x["window_start"]) if x["window_start"] is not None else None,
        window_end=from_epoch(x["window_end"]) if x["window_end"] is not None else None,
        points_written=x["points_written"], error=x["error"], warnings=tuple(x["warnings"] or ()))
