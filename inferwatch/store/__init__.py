"""Persistence: SQLAlchemy Core over SQLite (WAL, default) or PostgreSQL (``INFERWATCH_STORE_URL``).

Every SQL statement of Inferwatch lives in this package: :class:`Store` is assembled from one class per
concern (see ``inferwatch/store/store.py``), and nothing outside the package imports a table. Metric
points are written only through :meth:`Store.write_batch`, which keeps the hourly rollups in the same
transaction (see docs/store.md).
"""

from __future__ import annotations

from inferwatch.store.alert_records import AlertSummary
from inferwatch.store.engine import default_url, parse_store_url, redact, store_url_from_env
from inferwatch.store.errors import (
    StoreConfigError,
    StoreDataError,
    StoreError,
    StoreInputError,
    StoreSchemaError,
    StoreUnavailableError,
)
from inferwatch.store.kept import KeptDecision, KeptFigures, KeptNumbers
from inferwatch.store.leases import Lease, LeaseLostError, LeaseRefusal, LeaseToken
from inferwatch.store.quarantine import QuarantineEntry
from inferwatch.store.queries import WindowAggregate
from inferwatch.store.store import Store
from inferwatch.store.tables import from_epoch, to_epoch

__all__ = [
    "AlertSummary",
    "KeptDecision",
    "KeptFigures",
    "KeptNumbers",
    "Lease",
    "LeaseLostError",
    "LeaseRefusal",
    "LeaseToken",
    "QuarantineEntry",
    "Store",
    "StoreConfigError",
    "StoreDataError",
    "StoreError",
    "StoreInputError",
    "StoreSchemaError",
    "StoreUnavailableError",
    "WindowAggregate",
    "default_url",
    "from_epoch",
    "parse_store_url",
    "redact",
    "store_url_from_env",
    "to_epoch",
]
