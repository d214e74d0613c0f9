"""Collector leases on both backends: one holder per unit, skipped once collected during a round, taken
over after expiry, renewed by their holder, and a write by a holder that lost its lease refused."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from inferwatch.schema import CollectionBatch, CollectionRun, MetricPoint, RunStatus
from inferwatch.store import LeaseLostError, LeaseRefusal, LeaseToken, Store

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def take(store: Store, unit: str, holder: str, *, lease_s: float = 30.0,
         since: datetime | None = None) -> LeaseToken | LeaseRefusal:
    return store.try_lease(unit, holder=holder, host=f"host-{holder}", pid=len(holder), lease_s=lease_s,
                           round_started=since or store.lease_clock())


def batch(unit: str, value: float) -> tuple[CollectionBatch, CollectionRun]:
    point = MetricPoint("aws:eu-west-1:fn", "invocations", T0, 60, value)
    run = CollectionRun(f"run-{unit}-{value}", unit, T0, T0, RunStatus.OK, points_written=1)
    return CollectionBatch(collector=unit, points=(point,), cursor={"complete_until": 1}), run


def test_one_holder_at_a_time_and_the_refusal_names_it(store_url: str) -> None:
    store = Store.open(store_url)
    first = take(store, "aws:a:eu-west-1", "a")
    assert isinstance(first, LeaseToken)
    refused = take(store, "aws:a:eu-west-1", "b")
    assert isinstance(refused, LeaseRefusal) and not refused.collected_this_round
    assert refused.lease.holder == "a" and refused.describe().startswith("held by host-a (pid 1) until ")
    assert isinstance(take(store, "aws:b:eu-west-1", "b"), LeaseToken)  # another unit is free


def test_a_unit_collected_during_the_round_is_skipped_by_that_round_only(store_url: str) -> None:
    store = Store.open(store_url)
    since = store.lease_clock()
    token = take(store, "gcp:p:r:s", "a", since=since)
    assert isinstance(token, LeaseToken)
    store.release_lease(token)
    again = take(store, "gcp:p:r:s", "b", since=since)
    assert isinstance(again, LeaseRefusal) and again.collected_this_round
    assert again.describe().startswith("collected by host-a (pid 1) at ") and again.describe().endswith("this round")
    time.sleep(0.01)
    assert isinstance(take(store, "gcp:p:r:s", "b"), LeaseToken)  # a later round collects it again


def test_an_expired_lease_is_taken_over_and_its_old_holder_writes_nothing(store_url: str) -> None:
    store = Store.open(store_url)
    old = take(store, "local", "dead", lease_s=0.2)
    assert isinstance(old, LeaseToken)
    assert isinstance(take(store, "local", "new"), LeaseRefusal)
    time.sleep(0.3)
    new = take(store, "local", "new")
    assert isinstance(new, LeaseToken)
    with pytest.raises(LeaseLostError, match="took this unit over"):
        store.write_batch(*batch("local", 1.0), lease=old)
    assert store.load_metrics() == [] and store.load_cursor("local") is None and store.load_runs() == []
    store.write_batch(*batch("local", 2.0), lease=new)
    assert [p.value for p in store.load_metrics()] == [2.0]


def test_renewal_keeps_a_lease_past_its_length(store_url: str) -> None:
    store = Store.open(store_url)
    token = take(store, "aws:r:us-east-1", "a", lease_s=0.4)
    assert isinstance(token, LeaseToken)
    for _ in range(4):
        time.sleep(0.15)
        assert store.renew_leases("a", ["aws:r:us-east-1", "aws:other:us-east-1"], 0.4) == {"aws:r:us-east-1"}
    assert isinstance(take(store, "aws:r:us-east-1", "b"), LeaseRefusal)
    [lease] = store.load_leases()
    assert lease.holder == "a" and lease.expires_at > store.lease_clock()


def test_racing_holders_on_separate_connections_get_one_lease(store_url: str) -> None:
    Store.open(store_url).dispose()
    stores = [Store.open(store_url, create=False) for _ in range(8)]
    since = stores[0].lease_clock()
    barrier = threading.Barrier(len(stores))
    won: list[str] = []

    def race(i: int) -> None:
        barrier.wait()
        for unit in ("u1", "u2", "u3"):
            if isinstance(take(stores[i], unit, f"h{i}", since=since), LeaseToken):
                won.append(unit)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == ["u1", "u2", "u3"]
    for store in stores:
        store.dispose()


def test_the_lease_clock_is_the_databases(store_url: str) -> None:
    store = Store.open(store_url)
    assert abs(store.lease_clock() - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_lease_is_held_until_given_back_or_expired(store_url: str) -> None:
    store = Store.open(store_url)
    token = take(store, "local", "a")
    assert isinstance(token, LeaseToken)
    [held] = store.load_leases()
    assert held.held_at(held.acquired_at) and not held.held_at(held.expires_at)
    store.release_lease(token)
    [given_back] = store.load_leases()
    assert not given_back.held_at(given_back.acquired_at)  # a page's time rounded down still sees it free
