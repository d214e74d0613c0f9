"""``store_meta``: facts about the store itself, written once and never changed.

``store_id`` is a random id made the first time a store is asked for it. It tells two stores apart
wherever their records meet: a staging and a production home paging one shared receiver must never
send the same notification id, or the receiver drops one of them as a repeat (docs/alerts.md).
Every process using one store (several machines on one PostgreSQL) reads the same id.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Column, String, Table, Text, select
from sqlalchemy.dialects import postgresql, sqlite

from inferwatch.store.base import StoreBase
from inferwatch.store.tables import metadata

STORE_ID_KEY = "store_id"

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


class MetaStore(StoreBase):
    """``store_meta``: facts about the store itself."""

    def load_store_id(self) -> str:
        """The store's id (32 hex digits), made on first use; two processes racing to make it agree."""
        lookup = select(store_meta.c.value).where(store_meta.c.key == STORE_ID_KEY)
        with self.read() as conn:
            found = conn.execute(lookup).scalar()
        if found is not None:
            return str(found)
        with self.write() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(dialect.insert(store_meta).on_conflict_do_nothing(),
                         {"key": STORE_ID_KEY, "value": uuid.uuid4().hex})
            return str(conn.execute(lookup).scalar_one())  # the first writer's id, whoever that was
