"""Upserts reach PostgreSQL as one statement per chunk of rows (arrays unnested by the server), not one
pipelined statement per row, and still replace what they upsert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from inferwatch.schema import CollectionBatch, CollectionRun, MetricPoint, RunStatus
from inferwatch.store import Store

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def points(count: int, offset: float) -> tuple[MetricPoint, ...]:
    return tuple(MetricPoint(f"aws:eu-west-1:fn{i % 100}", "invocations", T0 + timedelta(minutes=i // 100), 60,
                             offset + i) for i in range(count))


@pytest.mark.parametrize("store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_points_reach_postgresql_as_one_statement_per_chunk(store_url: str) -> None:
    store = Store.open(store_url)
    seen: list[tuple[str, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        if statement.startswith("INSERT INTO metric_points"):
            seen.append((statement, executemany))

    event.listen(store.engine, "before_cursor_execute", record)
    for run_id, offset in (("first", 0.0), ("again", 0.5)):
        run = CollectionRun(run_id, "aws:default:eu-west-1", T0, T0, RunStatus.OK, points_written=12_000)
        store.write_batch(CollectionBatch(collector="aws:default:eu-west-1", points=points(12_000, offset)), run)
    assert [many for _, many in seen] == [False] * 6  # 12,000 rows: 3 chunks of at most 5,000, twice
    assert all("unnest(" in statement for statement, _ in seen)
    stored = store.load_metrics()
    assert len(stored) == 12_000 and sorted(p.value for p in stored)[:2] == [0.5, 1.5]  # replaced, not added
