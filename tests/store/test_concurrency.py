"""A collector, an alert-job-like writer and dashboard-like readers on one store at the same time:
0 lock errors and 0 lost rows, on SQLite and on PostgreSQL.

Runs 60 s per backend (``INFERWATCH_CONCURRENCY_TEST_S`` shortens it locally; never below 60 in CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from inferwatch.schema import Metric
from inferwatch.store import Store
from tests.store.store_worker import (
    ALERT_STATE_ROWS,
    DEPLOYMENTS,
    METRICS,
    alert_evaluations,
    alert_states,
    count_rows,
    value_of,
)

REPO = Path(__file__).resolve().parents[2]
READER_PROCESSES, READER_THREADS = 2, 2


def duration_s(env: Mapping[str, str] = os.environ) -> float:
    seconds = float(env.get("INFERWATCH_CONCURRENCY_TEST_S", "60"))
    return max(seconds, 60.0) if env.get("CI", "").lower() == "true" else seconds


def test_duration_is_never_below_60_s_in_ci() -> None:
    assert duration_s({"CI": "true", "INFERWATCH_CONCURRENCY_TEST_S": "5"}) == 60
    assert duration_s({"INFERWATCH_CONCURRENCY_TEST_S": "5"}) == 5
    assert duration_s({}) == 60


def _start(mode: str, url: str, seconds: float, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.store.store_worker", mode, url, str(seconds), str(out),
                             *extra], cwd=REPO, stderr=subprocess.PIPE)


def _finish(child: subprocess.Popen[bytes], out: Path, seconds: float) -> dict[str, Any]:
    _, stderr = child.communicate(timeout=seconds + 120)
    assert child.returncode == 0, stderr.decode()[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_collector_alert_job_and_dashboards_share_one_store(store_url: str, tmp_path: Path) -> None:
    seconds = duration_s()
    store = Store.open(store_url)
    children = {"collector": _start("collector", store_url, seconds, tmp_path / "collector.json"),
                "alerts": _start("alerts", store_url, seconds, tmp_path / "alerts.json")}
    for i in range(READER_PROCESSES):
        children[f"reader{i}"] = _start("reader", store_url, seconds, tmp_path / f"reader{i}.json",
                                        str(READER_THREADS))
    results = {name: _finish(child, tmp_path / f"{name}.json", seconds) for name, child in children.items()}
    print(json.dumps({name: {k: v for k, v in r.items() if k != "errors"} for name, r in results.items()}))

    errors = {name: r["errors"] for name, r in results.items() if r["errors"]}
    assert errors == {}, "lock or other errors under concurrency"
    collector, alerts = results["collector"], results["alerts"]
    committed = collector["committed"]
    assert committed >= seconds, "the collector should land several batches a second"
    assert alerts["evaluations"] >= seconds
    for i in range(READER_PROCESSES):
        assert results[f"reader{i}"]["queries"] >= 2 * seconds  # reading went on the whole time
        assert results[f"reader{i}"]["shrank"] == 0

    # No lost rows: every committed step, every run, every alert row is there, exactly once.
    assert store.count("metric_points") == committed * len(DEPLOYMENTS) * len(METRICS)
    assert store.count("histograms") == committed * len(DEPLOYMENTS)
    assert store.count("collection_runs") == collector["calls"]
    assert store.load_cursor("collector-under-test") == {"step": committed - 1}
    inv = Metric.INVOCATIONS.value
    want_total = sum(value_of(d, inv, s) for d in DEPLOYMENTS for s in range(committed))
    assert sum(p.value for p in store.load_metrics(metrics=[inv])) == pytest.approx(want_total)
    hourly = store.load_metrics(resolution_s=3600)
    assert hourly == store.load_metrics(resolution_s=3600, use_rollups=False)
    assert sum(p.value for p in hourly if p.metric == inv) == pytest.approx(want_total)
    assert count_rows(store, alert_states) == ALERT_STATE_ROWS
    assert count_rows(store, alert_evaluations) == alerts["evaluations"]
    store.dispose()
