"""The Deployment page shows SnapStart restores apart from on-demand cold starts: their count, their
duration and their billed time, never folded into the init average."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from inferwatch.schema import CollectionBatch, CollectionRun, Deployment, Metric, MetricPoint, floor_time
from inferwatch.store import Store
from tests.dashboard.test_overview import APP

PAGE = Path(APP).parent / "dashboard" / "pages" / "deployment.py"


def fill_snapstart(home: Path) -> None:
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    now = floor_time(datetime.now(UTC), 60)
    dep = Deployment(id="aws:eu-west-1:scorer:live", provider="aws", region="eu-west-1", name="scorer:live",
                     service="scorer", model_version="v1", memory_mb=1024)
    per_step = {Metric.INVOCATIONS: 50, Metric.COLD_STARTS: 3, Metric.RESTORES: 2, Metric.INIT_AVG: 800,
                Metric.INIT_MAX: 800, Metric.RESTORE_AVG: 300, Metric.RESTORE_MAX: 350, Metric.BILLED_RESTORE_SUM: 190}
    points = [MetricPoint(dep.id, metric, now - timedelta(minutes=i), 60, value)
              for i in range(5) for metric, value in per_step.items()]
    store.write_batch(CollectionBatch("aws", (dep,), tuple(points)), CollectionRun("r", "aws", now, now, "ok"))
    store.dispose()


def chart_traces(at: AppTest) -> dict[str, list[str]]:
    """Title -> trace names of every chart on the page."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        out[spec["layout"]["title"]["text"]] = [trace["name"] for trace in spec["data"]]
    return out


def test_restores_are_shown_apart_from_on_demand_cold_starts(home: Path) -> None:
    fill_snapstart(home)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(str(PAGE)).run()
    assert not at.exception, at.exception
    traces = chart_traces(at)
    assert traces["Cold starts and SnapStart restores"] == ["cold starts", "of which SnapStart restores"]
    assert sorted(traces["Init and restore duration"]) == ["init (max)", "init (mean)", "restore (max)",
                                                           "restore (mean)"]
    assert traces["SnapStart restore time billed"] == ["restore time billed"]
    cold = next(c for c in at.get("plotly_chart") if "Cold starts" in c.proto.spec)
    assert json.loads(cold.proto.spec)["layout"]["barmode"] == "group"  # a subset beside its whole, not stacked
