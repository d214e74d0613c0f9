"""Baselines are keyed by service and model (ModelKey: service, version, sha256): a real store on SQLite and
PostgreSQL, a store made before the key existed upgraded in place, and the lookup the collectors use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from drift import build_baseline
from inferwatch.names import name_problem
from inferwatch.schema import ModelKey
from inferwatch.store import Store
from readmodels.baselines import baseline_for, baseline_health, new_baseline_id, save_keyed_baseline
from shell.reference_baselines import ensure_model_baselines, model_baseline

T0 = datetime(2026, 5, 1, tzinfo=UTC)
SHA_A, SHA_B = "a" * 64, "b" * 64


def _baseline(seed: int, version: str = "v1", sha: str = SHA_A) -> object:
    rng = np.random.default_rng(seed)
    return build_baseline({"score": rng.random(2000)}, categorical=(), model_sha256=sha, version=version)


def test_the_demo_baseline_never_stands_in_for_another_services_v1(store_url: str) -> None:
    """The bug of issue 16: a user's model called v1 got the demo's breast-cancer baseline."""
    store = Store.open(store_url)
    ensure_model_baselines(store, [ModelKey("scorer", "v1"), ModelKey("reports", "v1")], now=T0)
    assert baseline_for(store, ModelKey("wine", "v1")) is None
    assert baseline_for(store, ModelKey("wine", "v1", SHA_A)) is None
    mine = save_keyed_baseline(store, ModelKey("wine", "v1", SHA_A), _baseline(1), source="mine",
                               created_at=T0 - timedelta(days=1))
    # the demo's baselines, made later, still do not shadow it
    ensure_model_baselines(store, [ModelKey("scorer", "v1")], now=T0 + timedelta(days=1))
    found = baseline_for(store, ModelKey("wine", "v1", SHA_A))
    assert found is not None and found[0] == mine
    scorer = baseline_for(store, ModelKey("scorer", "v1"))
    assert scorer is not None and scorer[1].model_sha256 == model_baseline("v1").model_sha256
    store.dispose()


def test_exact_model_file_first_then_the_newest_of_the_version(store_url: str) -> None:
    store = Store.open(store_url)
    old = save_keyed_baseline(store, ModelKey("wine", "v1", SHA_A), _baseline(1), source="a", created_at=T0)
    new = save_keyed_baseline(store, ModelKey("wine", "v1", SHA_B), _baseline(2, sha=SHA_B), source="b",
                              created_at=T0 + timedelta(hours=1))
    assert old != new
    assert baseline_for(store, ModelKey("wine", "v1", SHA_A))[0] == old  # type: ignore[index]
    assert baseline_for(store, ModelKey("wine", "v1", SHA_B))[0] == new  # type: ignore[index]
    assert baseline_for(store, ModelKey("wine", "v1"))[0] == new  # type: ignore[index]
    assert baseline_for(store, ModelKey("wine", "v1", "c" * 64))[0] == new  # type: ignore[index]
    assert baseline_for(store, ModelKey("wine", "v2", SHA_A)) is None
    rows = {r.id: r for r in baseline_health(store)}
    assert (rows[old].service, rows[old].model_version, rows[old].model_sha256) == ("wine", "v1", SHA_A)
    store.dispose()


@pytest.mark.parametrize(("service", "version"), [("s", "v1"), ("a" * 64, "b" * 64), ("wine-prod_2", "2026-05-01")])
def test_ids_are_safe_names_unique_per_key(service: str, version: str) -> None:
    base = _baseline(3, version=version)
    ids = {new_baseline_id(ModelKey(service, version, sha), base) for sha in (SHA_A, SHA_B, None)}
    ids.add(new_baseline_id(ModelKey(service + "x" if len(service) < 64 else "x" + service[1:], version, SHA_A), base))
    assert len(ids) == 4
    assert all(name_problem(i) is None for i in ids), ids
    assert new_baseline_id(ModelKey(service, version, SHA_A), base) == new_baseline_id(
        ModelKey(service, version, SHA_A), _baseline(3, version=version))  # the same baseline keeps its id


def test_a_store_made_before_the_key_is_upgraded_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:  # the baselines table as the previous version made it, with a row
        conn.execute(text("CREATE TABLE baselines (id VARCHAR(128) PRIMARY KEY, model_version VARCHAR(64) NOT NULL, "
                          "model_sha256 VARCHAR(64) NOT NULL, created_at BIGINT NOT NULL, source VARCHAR(255) NOT "
                          "NULL, payload JSON NOT NULL)"))
        conn.execute(text("INSERT INTO baselines VALUES ('model-v1-aaaaaaaaaaaa', 'v1', :sha, 0, 'held-out set of "
                          "model v1', '{}')"), {"sha": SHA_A})
    engine.dispose()
    store = Store.open(url)
    rows = store.list_baselines()
    assert [(r["id"], r["service"]) for r in rows] == [("model-v1-aaaaaaaaaaaa", "")]
    assert store.baseline_id_for("", "v1") is None and store.baseline_id_for("scorer", "v1") is None
    ensure_model_baselines(store, [ModelKey("scorer", "v1")], now=T0)
    assert store.baseline_id_for("scorer", "v1") not in (None, "model-v1-aaaaaaaaaaaa")
    store.dispose()
    Store.open(url).dispose()  # opening it again changes nothing
