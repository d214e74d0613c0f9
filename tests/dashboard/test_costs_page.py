"""The costs page under AppTest: alone via from_file, on an empty store and on the fixed store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.costs.report_store import fixed_store

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "costs.py")


@pytest.fixture
def empty_home(home: Path) -> Path:
    return home


def test_empty_store_shows_a_helpful_empty_state(empty_home: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Costs and advice"
    assert "No cost data" in at.info[0].value and "inferwatch demo" in at.info[0].value


def test_fixed_store_shows_the_report_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_store(tmp_path / "fixed.db").dispose()
    (tmp_path / "inferwatch.toml").write_text("[collect]\nstep_s = 3600\n", encoding="utf-8")
    monkeypatch.setenv("INFERWATCH_HOME", str(tmp_path))
    monkeypatch.setenv("INFERWATCH_STORE_URL", f"sqlite:///{tmp_path / 'fixed.db'}")
    monkeypatch.setenv("INFERWATCH_CONFIG", str(tmp_path / "inferwatch.toml"))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["week"] = "2026-W47"
    at.run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics, [i.value for i in at.info] + [e.value for e in at.error]
    assert metrics["Cost this week"] == "$29.26"
    assert metrics["Predictions"] == "1,382,400"
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    assert "aws:us-east-1:scorer" in json.loads(charts[0].proto.spec)["data"][0]["name"] + \
        json.loads(charts[0].proto.spec)["data"][1]["name"]
    assert len(at.get("download_button")) == 4
    assert any("reduce it to 2" in e.label for e in at.expander)
