"""Tables of the alert job, on the shared :data:`inferwatch.store.tables.metadata`.

``alert_states`` is the lifecycle per fingerprint, ``alert_events`` its history, ``alert_outbox``
every notification written before it is sent (pending -> delivered | dead), ``alert_runs`` one row
per job run (the dashboard shows staleness from it). Times are epoch seconds (UTC).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Integer, String, Table, Text

from inferwatch.store.tables import metadata

alert_states = Table(
    "alert_states",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("rule", String(128), nullable=False),
    Column("entity", String(300), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("since", BigInteger, nullable=False),
    Column("last_eval", BigInteger, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("active_since", BigInteger),
    Column("last_breach", BigInteger),
    Column("value", Float),
    Column("summary", Text, nullable=False),
    Column("notified", String(16), nullable=False),
    Column("notified_at", BigInteger),
    Column("notify_seq", Integer, nullable=False),
    Column("changes", JSON, nullable=False),
    Column("flapping", Boolean, nullable=False),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", String(64), primary_key=True),  # fingerprint:at:to_state
    Column("fingerprint", String(32), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("entity", String(300), nullable=False),
    Column("at", BigInteger, nullable=False, index=True),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("value", Float),
    Column("summary", Text, nullable=False),
)

alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", String(64), primary_key=True),  # stable notification id: receivers deduplicate on it
    Column("receiver", String(128), nullable=False),
    Column("group_key", String(300), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False, index=True),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("last_error", Text),
    Column("finished_at", BigInteger),
)

alert_runs = Table(
    "alert_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("started_at", BigInteger, nullable=False, index=True),
    Column("finished_at", BigInteger, nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("counts", JSON, nullable=False),
)
