"""The Drift page under AppTest: empty store, and a store with shifted feature histograms and shadow scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import streamlit as st
from streamlit.testing.v1 import AppTest

from drift import WindowCounts
from inferwatch.schema import CollectionBatch, CollectionRun, Deployment, HistogramPoint, ModelKey, floor_time
from inferwatch.store import Store
from readmodels.drift_status import record_drift
from shell.reference_baselines import ensure_model_baselines, heldout_signals, model_baseline, reference_baseline_id

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "drift.py")
DEP = "local:local:scorer-v1"


def fill_shifted(home: Path) -> tuple[Store, datetime]:
    """One deployment whose "mean radius" input is 1.5x its baseline, with a shadow scoring lower."""
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    ensure_model_baselines(store, [ModelKey("scorer", "v1")])
    bid, base = reference_baseline_id("scorer", "v1"), model_baseline("v1")
    signals, _ = heldout_signals("v1")
    rng = np.random.default_rng(5)
    now = floor_time(datetime.now(UTC), 60)
    points = []
    for minute in range(1, 40):
        idx = rng.integers(0, signals["score"].size, 150)
        values = {name: np.asarray(v)[idx] for name, v in signals.items()}
        values["feature:mean radius"] = values["feature:mean radius"] * 1.5
        values["shadow_score"] = np.clip(values["score"] - 0.2, 0, 1)
        for name, vals in values.items():
            column = base.column("score" if name == "shadow_score" else name)
            counts = WindowCounts.from_values(column, vals).to_dict()
            points.append(HistogramPoint(DEP, name, now - timedelta(minutes=minute), 60, bid, counts))
    dep = Deployment(id=DEP, provider="local", region="local", name="scorer-v1", service="scorer", model_version="v1")
    store.write_batch(CollectionBatch("local", (dep,), histograms=tuple(points)),
                      CollectionRun("r", "local", now, now, "ok"))
    return store, now


def test_empty_store_shows_what_to_do(home: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Drift"
    assert any("inferwatch demo" in info.value for info in at.info)


def test_filled_store_shows_overlay_time_series_table_and_shadow(home: Path) -> None:
    store, now = fill_shifted(home)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="drift_deployment").value == DEP
    assert len(at.dataframe) == 1  # no fleet table before collection has recorded a decision
    record_drift(store, now)  # what collection does after each round
    st.cache_data.clear()  # the page's loaders are cached for 15 s
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    fleet = at.dataframe[0].value
    assert fleet["deployment"].tolist() == [DEP] and "drift" in fleet["status"].iloc[0]
    assert "feature:mean radius (drift)" in fleet["signals"].iloc[0]
    table = at.dataframe[1].value
    top = table.iloc[0]
    assert top["signal"] == "feature:mean radius" and "drift" in top["status"]
    effects = table["effect / threshold"].dropna().tolist()
    assert effects == sorted(effects, reverse=True)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(specs) >= 3 and "baseline" in specs[0] and "noise floor" in specs[1] and "shadow" in specs[-1]
    assert any("shadow" in m.value and "drift" in m.value for m in at.markdown)
    at.selectbox(key="drift_signal").set_value("feature:mean radius").run()
    assert not at.exception, at.exception
    assert "feature:mean radius" in at.get("plotly_chart")[0].proto.spec


def test_an_unreadable_baseline_is_named_with_how_to_recreate_it(home: Path) -> None:
    from sqlalchemy import text

    store, _ = fill_shifted(home)
    bid = reference_baseline_id("scorer", "v1")
    with store.write() as conn:  # a corrupted row, as a bad migration or a hand edit leaves it
        conn.execute(text("UPDATE baselines SET payload = '{\"format\": 1}' WHERE id = :id"), {"id": bid})
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    remedy = "`inferwatch baseline create --version v1 --service scorer`"
    assert any(f"Baseline **{bid}** (model v1) is unreadable" in e and remedy in e for e in errors), errors
    assert any(e.startswith(f"Drift of {DEP} is unknown: baseline {bid} is unreadable") for e in errors), errors
