"""Numbers a collection round keeps for the pages, so a page showing every deployment reads one row
instead of recomputing from thousands of points: each deployment's latest drift decision
(``drift_statuses``), each window's statuses and costs (``kept_windows``) and the further figures per
deployment the Prometheus exporter serves (``kept_figures``: errors by cause, concurrency, advice
savings...). The read models compute them (``readmodels.drift_status``, ``readmodels.overview``,
``readmodels.exposition_kept``); the shell's collection round saves them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import JSON, BigInteger, Column, String, Table, func, select

from inferwatch.store import alert_tables as at
from inferwatch.store import tables as t
from inferwatch.store.base import StoreBase
from inferwatch.store.tables import from_epoch, metadata, to_epoch

# Figures per deployment under a topic ("window_900", "advice", ...), one row per topic: whoever scrapes
# every deployment's numbers reads a handful of rows, however long the history.
kept_figures = Table(
    "kept_figures",
    metadata,
    Column("topic", String(64), primary_key=True),
    Column("computed_at", BigInteger, nullable=False),  # the "now" the figures were computed for
    Column("window_start", BigInteger, nullable=False),  # the span of data they describe, [start, end)
    Column("window_end", BigInteger, nullable=False),
    Column("figures", JSON, nullable=False),  # deployment -> {name: value}
)


class KeptDecision(NamedTuple):
    """One deployment's drift decision as a round made it."""

    deployment: str
    evaluated_at: datetime  # the end of the newest window
    window_s: int
    n_windows: int
    baseline_id: str
    status: str
    signals: tuple[Mapping[str, Any], ...]  # the newest window's warn and drift results, worst first


class KeptNumbers(NamedTuple):
    """One window's numbers as a round computed them: each deployment's status (as a JSON-able dict)
    and its cost (usd, predictions)."""

    window_s: int
    computed_at: datetime  # the "now" the numbers were computed for
    statuses: tuple[Mapping[str, Any], ...]
    costs: Mapping[str, tuple[float, float]]


class KeptFigures(NamedTuple):
    """Figures per deployment a round computed under one topic: ``figures[deployment][name]`` is a
    finite number (the topic's read model names them and says what they mean)."""

    topic: str
    computed_at: datetime
    start: datetime
    end: datetime
    figures: Mapping[str, Mapping[str, float]]


class KeptStore(StoreBase):
    """``drift_statuses``, ``kept_windows`` and ``kept_figures``."""

    def save_drift_decisions(self, decisions: Sequence[KeptDecision]) -> None:
        rows = [{"deployment_id": d.deployment, "evaluated_at": to_epoch(d.evaluated_at, "evaluated_at"),
                 "window_s": d.window_s, "n_windows": d.n_windows, "baseline_id": d.baseline_id,
                 "status": d.status, "signals": [dict(s) for s in d.signals]} for d in decisions]
        with self.write() as conn:
            self.upsert(conn, t.drift_statuses, rows)

    def load_drift_decisions(self) -> list[KeptDecision]:
        with self.read() as conn:
            rows = conn.execute(select(t.drift_statuses)).mappings().all()
        return [KeptDecision(r["deployment_id"], from_epoch(r["evaluated_at"]), int(r["window_s"]),
                             int(r["n_windows"]), r["baseline_id"], r["status"], tuple(r["signals"]))
                for r in rows]

    def save_kept_numbers(self, numbers: Sequence[KeptNumbers]) -> None:
        rows = [{"window_s": n.window_s, "computed_at": to_epoch(n.computed_at, "computed_at"),
                 "statuses": [dict(s) for s in n.statuses],
                 "costs": {dep: list(v) for dep, v in n.costs.items()}} for n in numbers]
        with self.write() as conn:
            self.upsert(conn, t.kept_windows, rows)

    def load_kept_numbers(self, window_s: int) -> KeptNumbers | None:
        with self.read() as conn:
            row = conn.execute(select(t.kept_windows).where(t.kept_windows.c.window_s == window_s)).mappings().first()
        if row is None:
            return None
        return KeptNumbers(window_s, from_epoch(row["computed_at"]), tuple(row["statuses"]),
                           {dep: (float(usd), float(n)) for dep, (usd, n) in row["costs"].items()})

    def save_kept_figures(self, items: Sequence[KeptFigures]) -> None:
        """Replace each topic's figures (one row per topic)."""
        rows = [{"topic": k.topic, "computed_at": to_epoch(k.computed_at, "computed_at"),
                 "window_start": to_epoch(k.start, "start"), "window_end": to_epoch(k.end, "end"),
                 "figures": {dep: {name: float(v) for name, v in values.items()} for dep, values in k.figures.items()}}
                for k in items]
        with self.write() as conn:
            self.upsert(conn, kept_figures, rows)

    def load_kept_figures(self, topics: Sequence[str]) -> dict[str, KeptFigures]:
        """The kept figures of ``topics`` that exist, by topic."""
        with self.read() as conn:
            rows = conn.execute(select(kept_figures).where(kept_figures.c.topic.in_(list(topics)))).mappings().all()
        return {r["topic"]: KeptFigures(r["topic"], from_epoch(r["computed_at"]), from_epoch(r["window_start"]),
                                        from_epoch(r["window_end"]), r["figures"]) for r in rows}

    def kept_version(self, now: datetime, window_s: int) -> tuple[Any, ...]:
        """A value that changes whenever what the exporter reads changes: the kept numbers of ``window_s``
        and the kept figures (each round), the drift decisions (each round, and as each one expires at
        ``now``), the newest alert run and collector run. One statement over indexed or tiny tables."""
        now_s = to_epoch(now, "now")
        d, f, r, c = t.drift_statuses.c, kept_figures.c, at.alert_runs.c, t.collection_runs.c
        current = d.evaluated_at >= now_s - d.window_s * d.n_windows
        parts = [select(t.kept_windows.c.computed_at).where(t.kept_windows.c.window_s == window_s),
                 select(func.max(f.computed_at)), select(func.count()).select_from(kept_figures),
                 select(func.max(d.evaluated_at)), select(func.count()).select_from(t.drift_statuses).where(current),
                 select(func.max(r.started_at)), select(func.max(c.started_at))]
        with self.read() as conn:
            return tuple(conn.execute(select(*(q.scalar_subquery() for q in parts))).one())
