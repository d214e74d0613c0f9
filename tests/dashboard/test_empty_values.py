"""What a screenshot must never show: "None" in a table cell, "nan" in a header, millisecond ticks
on a time axis that holds a single point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import charts
from inferwatch.schema import CollectionRun
from inferwatch.store import Store
from readmodels.sources import source_health
from tests.costs.report_store import fixed_store
from tests.dashboard.test_overview import APP, fill

PAGES = Path(APP).parent / "dashboard" / "pages"


def _page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(str(PAGES / page)).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page", ["versions.py", "sources.py"])
def test_missing_values_in_tables_show_a_dash(home: Path, page: str) -> None:
    fill(home)  # one deployment: no shadow agreement (Versions), a collector without errors (Sources)
    at = _page(page)
    assert at.dataframe and any(df.value.isna().any().any() for df in at.dataframe)
    assert [df.proto.placeholder for df in at.dataframe] == ["—"] * len(at.dataframe)


def test_missing_values_in_the_costs_tables_show_a_dash(home: Path) -> None:
    fixed_store(home / "inferwatch.db").dispose()  # a new deployment: no previous week, no bill
    (home / "inferwatch.toml").write_text("[collect]\nstep_s = 3600\n", encoding="utf-8")
    at = AppTest.from_file(str(PAGES / "costs.py"), default_timeout=60)
    at.query_params["week"] = "2026-W47"
    at.run()
    assert not at.exception, at.exception
    rows = next(df for df in at.dataframe if "prev_cost_usd" in df.value.columns)
    assert rows.value["prev_cost_usd"].isna().any() and rows.value["billed_usd"].isna().any()
    assert [df.proto.placeholder for df in at.dataframe] == ["—"] * len(at.dataframe)


def test_a_collection_newer_than_the_page_s_rounded_time_is_zero_seconds_old(home: Path) -> None:
    fill(home)
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    just_now = datetime.now(UTC)
    store.record_run(CollectionRun("fresh", "local", just_now, just_now, "ok"))
    (health,) = source_health(store, just_now - timedelta(seconds=30))  # the page rounds its time down
    assert health.staleness_s == 0.0


def test_the_deployment_header_of_a_deployment_without_memory_has_no_nan(home: Path) -> None:
    fill(home)  # scorer-v1 without a configured memory size
    at = _page("deployment.py")
    header = at.caption[0].value
    assert "nan" not in header.lower() and "memory unknown" in header, header


def test_a_single_point_spans_an_hour_not_a_millisecond() -> None:
    at = datetime(2026, 12, 6, 23, 59, tzinfo=UTC)
    one = pd.DataFrame({"start": [at], "value": [3.0], "deployment": ["a"]})
    for fig in (charts.series_chart(one, title="t", y_title="y"), charts.series_chart(one, title="t", y_title="y",
                                                                                         kind="bar"),
                charts.latency_chart(one.assign(metric="latency_p99_ms"), title="t")):
        low, high = fig.layout.xaxis.range
        assert (low, high) == (at - timedelta(minutes=30), at + timedelta(minutes=30))
    two = pd.DataFrame({"start": [at, at + timedelta(minutes=5)], "value": [1.0, 2.0], "deployment": ["a", "a"]})
    assert charts.series_chart(two, title="t", y_title="y").layout.xaxis.range is None  # plotly's own range
