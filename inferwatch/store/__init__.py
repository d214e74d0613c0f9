"""Persistence: SQLAlchemy Core over SQLite (WAL, default) or PostgreSQL (``INFERWATCH_STORE_URL``).

Other packages may add their own tables to :data:`inferwatch.store.tables.metadata` in a module of
this package (``alerts`` does, in ``inferwatch/store/alert_tables.py``) and use :class:`Store`'s
``write()``/``read()`` transactions and ``upsert()``. Metric points are written only through
:meth:`Store.write_batch`, which keeps the hourly rollups in the same transaction (see docs/store.md).
"""

from __future__ import annotations

from inferwatch.store.engine import default_url, parse_store_url, redact, store_url_from_env
from inferwatch.store.errors import (
    StoreConfigError,
    StoreDataError,
    StoreError,
    StoreInputError,
    StoreUnavailableError,
)
from inferwatch.store.store import Store, from_epoch, to_epoch

# Registers the alert job's tables on the shared metadata, so every Store.open creates them too.
from inferwatch.store import alert_tables as _alert_tables  # noqa: F401  isort: skip
from inferwatch.store.meta import load_store_id  # isort: skip  (store_meta, on the shared metadata)

__all__ = [
    "Store",
    "StoreConfigError",
    "StoreDataError",
    "StoreError",
    "StoreInputError",
    "StoreUnavailableError",
    "default_url",
    "from_epoch",
    "load_store_id",
    "parse_store_url",
    "redact",
    "store_url_from_env",
    "to_epoch",
]
