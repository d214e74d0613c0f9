"""Drift baselines: saved once per model (an id carries the model's sha256), read by id or as the newest
of a model version. A payload is read as text first, so a corrupted row is reported for that baseline
alone (:class:`StoreDataError`) and never fails a read of the others."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, select

from inferwatch.store import tables as t
from inferwatch.store.base import StoreBase
from inferwatch.store.tables import from_epoch, to_epoch


class BaselineStore(StoreBase):
    """The ``baselines`` table."""

    def save_baseline(self, baseline_id: str, *, model_version: str, model_sha256: str, source: str,
                      payload: Mapping[str, Any], created_at: datetime) -> None:
        with self.write() as conn:
            self.upsert(conn, t.baselines, [{
                "id": baseline_id, "model_version": model_version, "model_sha256": model_sha256,
                "created_at": to_epoch(created_at, "created_at"), "source": source, "payload": dict(payload)}])

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

    def latest_baseline_id(self, model_version: str) -> str | None:
        """The id of the newest baseline of ``model_version``."""
        b = t.baselines
        stmt = (select(b.c.id).where(b.c.model_version == model_version)
                .order_by(b.c.created_at.desc(), b.c.id.desc()).limit(1))
        with self.read() as conn:
            return conn.execute(stmt).scalar()

    def load_latest_baseline(self, model_version: str) -> tuple[str, dict[str, Any]] | None:
        """(id, payload) of the newest baseline of ``model_version``; a corrupted payload raises
        :class:`StoreDataError` (never an older one in its place: it bins with other edges)."""
        bid = self.latest_baseline_id(model_version)
        payload = self.load_baseline(bid) if bid is not None else None
        return (bid, payload) if bid is not None and payload is not None else None

    def has_baseline(self, baseline_id: str) -> bool:
        with self.read() as conn:
            return conn.execute(select(t.baselines.c.id).where(t.baselines.c.id == baseline_id)).first() is not None

    def list_baselines(self) -> list[dict[str, Any]]:
        b = t.baselines
        with self.read() as conn:
            rows = conn.execute(select(b.c.id, b.c.model_version, b.c.model_sha256, b.c.created_at, b.c.source)
                                .order_by(b.c.created_at.desc())).mappings().all()
        return [dict(r) | {"created_at": from_epoch(r["created_at"])} for r in rows]

    def save_probe_bins(self, content: bytes, *, baseline_id: str, created_at: datetime) -> str:
        """Keep a bins file exported for probes, byte for byte; returns its sha256 (what window lines name)."""
        sha256 = hashlib.sha256(content).hexdigest()
        with self.write() as conn:
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
