"""Table definitions (SQLAlchemy Core). Times are stored as integer epoch seconds (UTC) so that
bucketing for rollups is plain integer arithmetic on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

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

baselines = Table(
    "baselines",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("model_version", String(64), nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("source", String(255), nullable=False),
    Column("payload", JSON, nullable=False),
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
