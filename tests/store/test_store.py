"""Round trips, idempotency, time handling and errors, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from inferwatch.schema import (
    CollectionBatch,
    CollectionRun,
    CostRecord,
    Deployment,
    HistogramPoint,
    Metric,
    MetricPoint,
)
from inferwatch.store import Store, StoreConfigError, StoreInputError, StoreUnavailableError, parse_store_url
from tests.store.store_worker import DEPLOYMENTS, METRICS, run_record, step_batch, value_of

T0 = datetime(2026, 2, 1, 12, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Store:
    return Store.open(store_url)


def test_rewriting_a_window_leaves_one_copy_with_the_new_values(store: Store) -> None:
    for _ in range(3):
        store.write_batch(step_batch(0), run_record())
        store.write_batch(step_batch(1), run_record())
    assert store.count("metric_points") == 2 * len(DEPLOYMENTS) * len(METRICS)
    assert store.count("histograms") == 2 * len(DEPLOYMENTS)
    assert store.count("deployments") == len(DEPLOYMENTS)
    assert store.count("collection_runs") == 6  # every run is recorded, each once
    store.write_batch(step_batch(1, value=lambda d, m, s: 5.0), run_record())
    by_key = {(p.deployment, p.metric, p.start.minute): p.value for p in store.load_metrics()}
    assert len(by_key) == store.count("metric_points")
    assert all(v == 5.0 for (_, _, minute), v in by_key.items() if minute == 1)
    invocations = Metric.INVOCATIONS.value
    hourly = {p.deployment: p.value for p in store.load_metrics(metrics=[invocations], resolution_s=3600)}
    assert hourly == {d: value_of(d, invocations, 0) + 5.0 for d in DEPLOYMENTS}


def test_duplicate_keys_inside_one_batch_keep_the_last(store: Store) -> None:
    points = (MetricPoint("local:a:x", "invocations_count", T0, 60, 1.0),
              MetricPoint("local:a:x", "invocations_count", T0, 60, 2.0))
    store.write_batch(CollectionBatch("c", points=points), run_record("c"))
    assert [p.value for p in store.load_metrics(start=T0)] == [2.0]


def test_metric_span_is_where_a_window_s_data_begins_and_ends(store: Store) -> None:
    points = tuple(MetricPoint("local:a:x", metric, T0 + timedelta(minutes=m), 60, 1.0)
                   for metric, m in (("memory_max_used_mb", 3), ("invocations_count", 5), ("invocations_count", 9)))
    store.write_batch(CollectionBatch("c", points=points), run_record("c"))
    week = (T0 - timedelta(days=7), T0 + timedelta(days=1))

    def minute(m: int) -> datetime:
        return T0 + timedelta(minutes=m)

    assert store.metric_span(metrics=["invocations_count"], start=week[0], end=week[1]) == (minute(5), minute(10))
    assert store.metric_span(metrics=["invocations_count", "memory_max_used_mb"], start=week[0],
                             end=week[1]) == (minute(3), minute(10))
    assert store.metric_span(metrics=["invocations_count"], start=minute(6), end=week[1]) == (minute(9), minute(10))
    assert store.metric_span(metrics=["invocations_count"], start=week[0], end=minute(9)) == (minute(5), minute(6))
    assert store.metric_span(metrics=["invocations_count"], start=week[0], end=minute(5)) is None
    assert store.metric_span(metrics=["invocations_count"], start=week[0], end=week[1], step_s=3600) is None


def test_round_trips(store: Store) -> None:
    dep = Deployment("aws:eu-west-1:scorer:live", "aws", "eu-west-1", "scorer:live", "scorer", model_version="v2",
                     role="canary", traffic_weight=0.1, memory_mb=1024, timeout_s=3.0, provisioned_concurrency=2,
                     slo_p99_ms=250.0, labels={"team": "ml"})
    hist = HistogramPoint(dep.id, "score", T0, 300, "b-v2", {"edges": [0.0, 0.5, 1.0], "counts": [3, 4]})
    cost = CostRecord("aws:123456789012", datetime(2026, 2, 1, tzinfo=UTC), "Lambda-GB-Second", 1.25, 75000.0,
                      "GB-Seconds", False, "cost_explorer")
    run = CollectionRun("run-1", "aws", T0, T0 + timedelta(seconds=3), "partial", T0, T0 + timedelta(minutes=5),
                        12, None, ("throttled twice",))
    store.write_batch(CollectionBatch("aws", (dep,), (MetricPoint(dep.id, "latency_p99_ms", T0, 300, 123.5),),
                                      (hist,), (cost,), cursor={"last_end": "2026-02-01T12:05:00+00:00"}), run)
    assert store.load_deployments() == [dep]
    assert store.load_histograms(signals=["score"]) == [hist]
    assert store.load_histograms(start=T0 + timedelta(seconds=1)) == []
    assert store.load_costs(start=cost.day, end=cost.day + timedelta(days=1)) == [cost]
    assert store.load_cursor("aws") == {"last_end": "2026-02-01T12:05:00+00:00"}
    assert store.load_cursor("gcp") is None
    assert store.load_runs(collector="aws") == [run]
    assert store.load_metrics(step_s=300) == [MetricPoint(dep.id, "latency_p99_ms", T0, 300, 123.5)]
    failed = CollectionRun("run-2", "gcp", T0, T0, "failed", error="PermissionDenied")
    store.record_run(failed)
    assert store.load_runs(collector="gcp") == [failed]

    store.save_baseline("b-v2", service="scorer", model_version="v2", model_sha256="ab" * 32, source="holdout",
                        payload={"edges": [0.0, 0.5, 1.0]}, created_at=T0)
    store.save_baseline("b-v2-new", service="scorer", model_version="v2", model_sha256="cd" * 32, source="window",
                        payload={"edges": [0.0, 1.0]}, created_at=T0 + timedelta(days=1))
    assert store.load_baseline("b-v2") == {"edges": [0.0, 0.5, 1.0]}
    assert store.load_baseline("missing") is None
    assert store.baseline_id_for("scorer", "v2") == "b-v2-new"
    assert store.baseline_id_for("scorer", "v2", "ab" * 32) == "b-v2"  # the exact model file first
    assert store.baseline_id_for("scorer", "v2", "ef" * 32) == "b-v2-new"  # else the newest of the version
    assert store.baseline_id_for("scorer", "v9") is None
    assert store.baseline_id_for("wine", "v2") is None  # never another service's
    assert [(b["id"], b["service"]) for b in store.list_baselines()] == [("b-v2-new", "scorer"), ("b-v2", "scorer")]


def test_json_documents_read_back_whatever_parser_reads_them(store: Store) -> None:
    """JSON columns are read with orjson; what only Python's json accepts (integers past 64 bits, and
    on SQLite the NaN token, which PostgreSQL refuses to store) still reads."""
    state: dict[str, object] = {"offsets": {"a.log": 2**70}, "files": ["x", "y"], "ok": True}
    if store.dialect == "sqlite":
        state["rate"] = float("nan")
    store.write_batch(CollectionBatch("local", cursor=state), run_record())
    got = store.load_cursor("local")
    assert got is not None and got["offsets"] == {"a.log": 2**70}
    assert (got["files"], got["ok"]) == (["x", "y"], True)
    if store.dialect == "sqlite":
        assert got["rate"] != got["rate"]  # NaN


def test_empty_store_answers_empty(store: Store) -> None:
    assert store.load_metrics() == []
    assert store.load_metrics(resolution_s=3600, start=T0, end=T0 + timedelta(days=30)) == []
    assert store.load_metrics(start=T0, end=T0) == []
    assert store.load_deployments() == [] and store.load_runs() == [] and store.load_histograms() == []


def test_times_keep_their_instant_whatever_the_zone(store: Store) -> None:
    tokyo = timezone(timedelta(hours=9))
    point = MetricPoint("local:a:x", "invocations_count", T0.astimezone(tokyo), 60, 3.0)
    store.write_batch(CollectionBatch("c", points=(point,)), run_record("c"))
    [loaded] = store.load_metrics(start=T0, end=T0 + timedelta(minutes=1))
    assert loaded.start == T0 and loaded.start.tzinfo is not None


@pytest.mark.parametrize("where", ["point", "histogram", "run", "query"])
def test_naive_datetimes_are_refused_and_nothing_is_written(store: Store, where: str) -> None:
    naive = datetime(2026, 2, 1, 12)
    point = MetricPoint("local:a:x", "invocations_count", naive if where == "point" else T0, 60, 1.0)
    hist = HistogramPoint("local:a:x", "score", naive if where == "histogram" else T0, 60, "b", {})
    run = CollectionRun(uuid.uuid4().hex, "c", naive if where == "run" else T0, T0, "ok")
    with pytest.raises(StoreInputError, match="naive datetime") as info:
        if where == "query":
            store.load_metrics(start=naive)
        else:
            store.write_batch(CollectionBatch("c", points=(point,), histograms=(hist,), cursor={"n": 1}), run)
    assert isinstance(info.value, ValueError)
    assert store.count("metric_points") == 0 and store.load_cursor("c") is None and store.load_runs() == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_refused(store: Store, value: float) -> None:
    bad = MetricPoint("local:a:x", "latency_p95_ms", T0, 60, value)
    with pytest.raises(StoreInputError, match="local:a:x latency_p95_ms.*not finite") as info:
        store.write_batch(CollectionBatch("c", points=(bad,)), run_record("c"))
    assert info.value.field == "value"
    assert store.count("metric_points") == 0


def test_bad_queries_name_what_was_wrong(store: Store) -> None:
    with pytest.raises(StoreInputError, match="not a multiple") as info:
        store.load_metrics(step_s=60, resolution_s=90)
    assert info.value.field == "resolution_s"
    with pytest.raises(StoreInputError, match="before start"):
        store.load_metrics(start=T0, end=T0 - timedelta(seconds=1))
    with pytest.raises(StoreInputError, match="step_s"):
        store.load_metrics(step_s=0)


def test_unusable_urls_raise_store_errors(tmp_path: object) -> None:
    with pytest.raises(StoreConfigError, match="not a SQLAlchemy URL"):
        Store.open("not a url")
    with pytest.raises(StoreConfigError, match="mysql"):
        Store.open("mysql://u@localhost/db")
    with pytest.raises(StoreUnavailableError, match="unavailable") as info:
        Store.open("postgresql+psycopg://nobody:secret-pw@/none?host=/nonexistent-socket-dir")
    assert "secret-pw" not in str(info.value)
    assert "\n" not in str(info.value)  # libpq's hints join the reason's one line


@pytest.mark.parametrize(("url", "problem"), [
    ("postgresql://h:abc/db", "not a SQLAlchemy URL"),  # a port that is not a number
    ("sqlite+pysqlcipher:///x.db", "driver 'sqlite+pysqlcipher' is not supported"),  # not installed
    ("postgresql+psycopg2://h/db", "driver 'postgresql+psycopg2' is not supported"),
    ("sqlite://", "sqlite:///PATH"),  # in memory: every connection its own empty database
    ("sqlite:///x.db?timeout=abc", "sqlite:///PATH"),
    ("sqlite:///x\u0000.db", "NUL"),
])
def test_urls_that_would_fail_at_the_first_connection_are_refused_before(url: str, problem: str) -> None:
    """Each of these got past the URL check and then failed with a traceback (or a warning)."""
    with pytest.raises(StoreConfigError, match=re.escape(problem)):
        parse_store_url(url)
    with pytest.raises(StoreConfigError, match=re.escape(problem)):
        Store.open(url)


def test_a_sqlite_folder_that_cannot_be_made_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreConfigError, match="cannot make the folder"):
        Store.open(f"sqlite:///{tmp_path / 'file' / 'sub' / 'x.db'}")


def test_context_manager_disposes(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.write_batch(step_batch(0), run_record())
    assert store.count("metric_points") == len(DEPLOYMENTS) * len(METRICS)  # reconnects after dispose
    store.dispose()


def test_a_store_from_an_earlier_version_gets_the_current_indexes(store_url: str) -> None:
    """A store made before the covering window index existed: opening it builds that index, drops
    the one it replaces, keeps the data, and the window reads are served from the index alone."""
    from sqlalchemy import inspect, text

    from inferwatch.store import queries

    store = Store.open(store_url)
    store.write_batch(step_batch(0), run_record())
    with store.write() as conn:  # what the earlier schema had
        conn.execute(text("DROP INDEX ix_metric_points_window"))
        conn.execute(text("CREATE INDEX ix_metric_points_step_ts ON metric_points (step_s, ts)"))
    store.dispose()

    store = Store.open(store_url)
    with store.read() as conn:
        names = {ix["name"] for ix in inspect(conn).get_indexes("metric_points")}
        assert "ix_metric_points_window" in names and "ix_metric_points_step_ts" not in names
        if conn.dialect.name == "sqlite":
            query = queries.window_aggregate_query([Metric.LATENCY_P99], Metric.INVOCATIONS, 60, 0, 2**40)
            plan = " ".join(str(row[-1]) for row in conn.execute(text(
                "EXPLAIN QUERY PLAN " + str(query.compile(conn, compile_kwargs={"literal_binds": True})))))
            assert "COVERING INDEX ix_metric_points_window" in plan, plan
    assert store.count("metric_points") == len(DEPLOYMENTS) * len(METRICS)
    Store.open(store_url).dispose()  # opening an upgraded store again changes nothing
    store.dispose()


def test_the_store_id_is_made_once_and_kept(store: Store, store_url: str, tmp_path: Path) -> None:

    first = store.load_store_id()
    assert len(first) == 32 and int(first, 16) >= 0
    reopened = Store.open(store_url)
    try:
        assert reopened.load_store_id() == first == store.load_store_id()
    finally:
        reopened.dispose()
    other = Store.open(f"sqlite:///{tmp_path}/other.db")
    try:
        assert other.load_store_id() != first
    finally:
        other.dispose()
