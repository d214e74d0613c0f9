"""Drift baselines: saved per model (service, version and the model file's sha256), read by id or as the
one for a model (:meth:`BaselineStore.baseline_id_for`). A payload is read as text first, so a corrupted
row is reported for that baseline alone (:class:`StoreDataError`) and never fails a read of the others."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.engine import Connection

from inferwatch.store import tables as t
from inferwatch.store.base import StoreBase
from inferwatch.store.tables import from_epoch, to_epoch


class BaselineStore(StoreBase):
    """The ``baselines`` table."""

    def save_baseline(self, baseline_id: str, *, service: str, model_version: str, model_sha256: str, source: str,
                      payload: Mapping[str, Any], created_at: datetime, probe_bins: bytes | None = None) -> None:
        """Save a baseline, and with it (in the same transaction) the bins file exported for probes."""
        with self.write() as conn:
            self.upsert(conn, t.baselines, [{
                "id": baseline_id, "service": service, "model_version": model_version, "model_sha256": model_sha256,
                "created_at": to_epoch(created_at, "created_at"), "source": source, "payload": dict(payload)}])
            if probe_bins is not None:
                self._upsert_probe_bins(conn, probe_bins, baseline_id, created_at)

    def load_baseline(self, baseline_id: str) -> dict[str, Any] | None:
        """The baseline's payload, None when there is none; :class:`StoreDataError` when the stored
        payload is not a JSON object (a corrupted row), so one bad row never fails a whole read."""
        text = self.load_baseline_text(baseline_id)
        return t.baseline_payload(baseline_id, text) if text is not None else None

    def load_baseline_text(self, baseline_id: str) -> str | None:
        """The payload exactly as stored (JSON text, or whatever a corruption left), None when there is none."""
        b = t.baselines
        with self.read() as conn:
            row = conn.execute(select(cast(b.c.payload, Text)).where(b.c.id == baseline_id)).first()
        return None if row is None else str(row[0])

    def baseline_id_for(self, service: str, model_version: str, model_sha256: str | None = None) -> str | None:
        """The id of the baseline of this service's model: the newest made for exactly this model file
        (``model_sha256``) when there is one, else the newest of the service's ``model_version``. Never
        another service's (two services may both call their model ``v1``), never an unbound one."""
        b = t.baselines
        if not service:
            return None
        newest = (b.c.created_at.desc(), b.c.id.desc())
        of_version = select(b.c.id).where(b.c.service == service, b.c.model_version == model_version)
        with self.read() as conn:
            if model_sha256 is not None:
                exact = conn.execute(of_version.where(b.c.model_sha256 == model_sha256).order_by(*newest)
                                     .limit(1)).scalar()
                if exact is not None:
                    return str(exact)
            found = conn.execute(of_version.order_by(*newest).limit(1)).scalar()
        return None if found is None else str(found)

    def has_baseline(self, baseline_id: str) -> bool:
        with self.read() as conn:
            return conn.execute(select(t.baselines.c.id).where(t.baselines.c.id == baseline_id)).first() is not None

    def list_baselines(self) -> list[dict[str, Any]]:
        b = t.baselines
        with self.read() as conn:
            rows = conn.execute(select(b.c.id, b.c.service, b.c.model_version, b.c.model_sha256, b.c.created_at,
                                       b.c.source).order_by(b.c.created_at.desc(), b.c.id.desc())).mappings().all()
        return [dict(r) | {"created_at": from_epoch(r["created_at"])} for r in rows]

    def save_probe_bins(self, content: bytes, *, baseline_id: str, created_at: datetime) -> str:
        """Keep a bins file exported for probes, byte for byte; returns its sha256 (what window lines name)."""
        with self.write() as conn:
            return self._upsert_probe_bins(conn, content, baseline_id, created_at)

    def _upsert_probe_bins(self, conn: Connection, content: bytes, baseline_id: str, created_at: datetime) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        self.upsert(conn, t.probe_bins, [{"sha256": sha256, "baseline_id": baseline_id,
                                          "created_at": to_epoch(created_at, "created_at"),
                                          "content": content.decode("utf-8")}])
        return sha256

    def load_probe_bins(self, sha256: str) -> tuple[str, bytes] | None:
        """(baseline id, bytes) of the bins file with this sha256, None when the store does not know it."""
        b = t.probe_bins
        with self.read() as conn:
            row = conn.execute(select(b.c.baseline_id, b.c.content).where(b.c.sha256 == sha256)).first()
        return None if row is None else (str(row[0]), str(row[1]).encode("utf-8"))
