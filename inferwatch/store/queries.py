"""The statements the metric store composes: hourly roll-ups kept in step with the points, filters,
bucketed reads that take the roll-ups for whole hours, and window aggregates."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from inferwatch.schema import (
    AGGREGATION,
    Aggregation,
)
from inferwatch.store.tables import ROLLUP_STEP_S, metric_points, metric_rollups


def contiguous_hours(hours: Sequence[int]) -> Iterator[tuple[int, int]]:
    """[lo, hi) ranges covering sorted hour starts, one per run of adjacent hours."""
    lo = prev = hours[0]
    for hour in hours[1:]:
        if hour != prev + ROLLUP_STEP_S:
            yield lo, prev + ROLLUP_STEP_S
            lo = hour
        prev = hour
    yield lo, prev + ROLLUP_STEP_S


def rollup_insert(conn: Connection, where: list[ColumnElement[bool]]) -> Any:
    mp, mr = metric_points.c, metric_rollups
    hour = mp.ts - mp.ts % literal_column(str(ROLLUP_STEP_S))
    rolled = (select(mp.deployment_id, mp.metric, mp.step_s, hour, func.sum(mp.value), func.max(mp.value),
                     func.count()).where(*where).group_by(mp.deployment_id, mp.metric, mp.step_s, hour))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(mr).from_select(
        ["deployment_id", "metric", "step_s", "ts", "value_sum", "value_max", "sample_count"], rolled)
    return stmt.on_conflict_do_update(
        index_elements=[c.name for c in mr.primary_key.columns],
        set_={name: stmt.excluded[name] for name in ("value_sum", "value_max", "sample_count")})


def filters(table: Table, deployments: Sequence[str] | None, metrics: Sequence[str] | None,
             step_s: int) -> list[ColumnElement[bool]]:
    where = [table.c.step_s == step_s]
    if deployments is not None:
        where.append(table.c.deployment_id.in_(list(deployments)))
    if metrics is not None:
        where.append(table.c.metric.in_(list(metrics)))
    return where


def span(column: Any, lo: int | None, hi: int | None) -> list[ColumnElement[bool]]:
    return ([column >= lo] if lo is not None else []) + ([column < hi] if hi is not None else [])


def bucketed(table: Table, where: list[ColumnElement[bool]], resolution_s: int) -> Select[Any]:
    """(deployment, metric, bucket, total, peak, n) per bucket, from points or from hourly rollups."""
    c = table.c
    # A literal, not a bound parameter: PostgreSQL must see the same expression in GROUP BY.
    bucket = c.ts - c.ts % literal_column(str(int(resolution_s)))
    values: tuple[ColumnElement[Any], ...]
    if table is metric_rollups:
        values = (func.sum(c.value_sum), func.max(c.value_max), func.sum(c.sample_count))
    else:
        values = (func.sum(c.value), func.max(c.value), func.count())
    labels = ("total", "peak", "n")
    return (select(c.deployment_id, c.metric, bucket.label("bucket"), *(v.label(k) for v, k in zip(values, labels,
                                                                                                   strict=True)))
            .where(and_(*where)).group_by(c.deployment_id, c.metric, bucket))


def merged(queries: Sequence[Select[Any]]) -> Select[Any]:
    """The :func:`bucketed` queries (whole hours from the rollups, partial ones from the points) as one:
    buckets they share are combined in the database, sorted by deployment, metric and time."""
    if len(queries) == 1:
        q = queries[0].subquery("parts")
        return select(*q.c).order_by(q.c.deployment_id, q.c.metric, q.c.bucket)
    parts = union_all(*queries).subquery("parts")
    c = parts.c
    return (select(c.deployment_id, c.metric, c.bucket, func.sum(c.total), func.max(c.peak), func.sum(c.n))
            .group_by(c.deployment_id, c.metric, c.bucket).order_by(c.deployment_id, c.metric, c.bucket))


class WindowAggregate(NamedTuple):
    total: float
    weighted_total: float  # sum of value x the weight metric's value in the same step
    weight: float  # sum of the weight metric's values over the steps that have this metric
    last_positive: datetime | None  # the newest step whose value is > 0


def window_aggregate_query(metrics: Sequence[str], weight: str, step_s: int, lo: int, hi: int) -> Select[Any]:
    """One scan of the window, no join: the inner query puts each step's metrics side by side (one
    column per metric, and the weight), the outer one sums them per deployment. Columns after the
    deployment: per metric, (total, weighted total, weight, newest positive step)."""
    mp = metric_points.c
    names = list(dict.fromkeys([*metrics, weight]))

    def pivot(name: str) -> Any:
        return func.sum(case((mp.metric == name, mp.value))).label(f"m{names.index(name)}")

    steps = (select(mp.deployment_id, mp.ts, *(pivot(n) for n in names))
             .where(mp.step_s == step_s, mp.metric.in_(names), mp.ts >= lo, mp.ts < hi)
             .group_by(mp.deployment_id, mp.ts).subquery("steps"))
    w = func.coalesce(steps.c[f"m{names.index(weight)}"], 0.0)
    columns: list[Any] = []
    for name in metrics:
        v = steps.c[f"m{names.index(name)}"]
        columns += [func.sum(v), func.sum(v * w), func.sum(case((v.is_not(None), w))), func.max(case((v > 0,
                                                                                                      steps.c.ts)))]
    return select(steps.c.deployment_id, *columns).group_by(steps.c.deployment_id)


def finalize(metric: str, total: float, peak: float, n: float) -> float:
    aggregation = AGGREGATION.get(metric, Aggregation.MEAN)  # type: ignore[call-overload]
    if aggregation is Aggregation.SUM:
        return total
    if aggregation is Aggregation.MAX:
        return peak
    return total / n
