"""The Model health page under AppTest: an empty store, the demo model's traffic with labels (estimated
and realised accuracy, the baseline's level, the drift beside them), and the demo's own data."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from streamlit.testing.v1 import AppTest

from inferwatch.store import Store
from readmodels.labels import LabelInput, ingest_labels
from tests.dashboard.conftest import clean_env
from tests.homes import use_home
from tests.readmodels.quality_data import DEP, collect, serve

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "health.py")


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_empty_store_shows_what_to_do(home: Path) -> None:
    at = _page()
    assert at.title[0].value == "Model health"
    assert any("inferwatch demo" in info.value for info in at.info)


def test_estimated_and_realised_quality_with_the_drift_beside_them(home: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    served = serve(now, minutes=60, per_minute=40, shift_after_min=30, shift_sd=3.0)  # drift needs 500 rows
    collect(store, home, served, now)
    items = [LabelInput(line=i, label=s.truth[0], request_id=s.request_id) for i, s in enumerate(served[::2])]
    ingest_labels(store, items, now=now, source="labels.csv", step_s=60)
    at = _page()
    assert at.selectbox(key="health_deployment").value == DEP.id
    assert at.selectbox(key="health_metric").value == "accuracy"
    labels = {m.label: m.value for m in at.metric}
    assert labels["baseline accuracy"] == "0.971" and labels["model"] == "v1 (binary)"
    assert float(labels["realised accuracy"]) < 0.9  # the shifted inputs cost the model its accuracy
    spec = at.get("plotly_chart")[0].proto.spec
    assert "estimated accuracy (no labels)" in spec and "realised accuracy (labels)" in spec
    assert "95% band of the estimate" in spec and "baseline 0.971" in spec
    table = at.dataframe[0].value
    newest = table.iloc[0]
    assert newest["realised"] < 0.9 and newest["estimated_low"] <= newest["estimated"] <= newest["estimated_high"]
    assert "feature:" in newest["drift"] and "(drift)" in newest["drift"]  # the shifted inputs explain it
    assert any("calibrated on 171 labelled reference rows" in c.value for c in at.caption)


def test_the_demos_deployments_get_calibrated_estimates(demo_home: Path, tmp_path: Path, monkeypatch: object) -> None:
    """On a copy of the demo's store (other tests share the demo home)."""
    for name in ("inferwatch.db", "inferwatch.db-wal", "inferwatch.db-shm"):
        if (demo_home / name).exists():
            shutil.copy(demo_home / name, tmp_path / name)
    use_home(tmp_path, monkeypatch)  # type: ignore[arg-type]
    assert clean_env(tmp_path)["INFERWATCH_HOME"] == str(tmp_path)
    at = _page()
    at.selectbox(key="health_deployment").set_value("local:local:scorer-v1").run()
    assert not at.exception, at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["model"] == "v1 (binary)" and labels["baseline accuracy"] == "0.971"
    assert 0.5 < float(labels["estimated accuracy"]) <= 1.0
    assert any("calibrated on 171 labelled reference rows" in c.value for c in at.caption)
