"""The spine end to end: the real demo (emulator processes, load, collector, store), then
`inferwatch status --json` and Streamlit's AppTest on the store it filled."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from inferwatch.store import Store
from readmodels.drift_status import load_recorded_drift
from readmodels.overview import load_kept_window
from tests.dashboard.conftest import clean_env, inferwatch_bin
from tests.dashboard.status_html import read_status_table
from tests.dashboard.test_overview import APP

DEMO = {"local:local:scorer-v1", "local:local:scorer-v2", "local:local:reports-v1"}
KEEPS_WARM = {"local:local:scorer-v1", "local:local:reports-v1"}  # min_instances: prewarmed, no cold start


def test_demo_fills_the_store_with_every_deployment(demo_home: Path) -> None:
    out = subprocess.run([inferwatch_bin(), "status", "--json", "--window", "3600"], env=clean_env(demo_home),
                         cwd=demo_home, capture_output=True, text=True, check=True, timeout=60)
    rows = {r["deployment"]: r for r in json.loads(out.stdout)["deployments"]}
    assert set(rows) == DEMO
    for deployment, row in rows.items():
        assert row["invocations"] > 0
        assert row["p95_ms"] > 0
        assert row["cold_starts"] >= (0 if deployment in KEEPS_WARM else 1), deployment


def test_cold_starts_equal_instance_processes_started_on_demand(demo_home: Path) -> None:
    """Every telemetry file is one instance process; each started on demand started cold exactly once,
    each prewarmed (min instances) never did."""
    telemetry = demo_home / "telemetry"
    for deployment_dir in telemetry.iterdir():
        instances: dict[str, list[dict[str, Any]]] = {}
        for path in deployment_dir.glob("*.jsonl"):  # <instance_id>.jsonl and its rotated <instance_id>.<n>.jsonl
            instances.setdefault(path.name.split(".", 1)[0], []).extend(
                json.loads(line) for line in path.read_text().splitlines() if line.strip())
        assert instances, deployment_dir.name
        for instance, docs in instances.items():
            if not docs:  # a warm instance that served nothing (reports-v1 keeps three for 2 requests/s)
                continue
            prewarmed = {d.get("Prewarmed", 0) for d in docs}
            assert len(prewarmed) == 1 and sum(d["ColdStart"] for d in docs) == 1 - prewarmed.pop(), instance


def test_overview_renders_the_demo_deployments(demo_store_home: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    rows = read_status_table(at.html[0].value)
    assert set(rows) == DEMO
    for row in rows.values():
        assert int(row.cells["invocations"].replace(",", "")) > 0
        assert row.cells["$ / 1k predictions"].startswith("$")
        assert len(row.sparklines) == 2 and "peak 0," not in row.sparklines[1]  # traffic in the trend
    # The demo's collection rounds decided drift for both deployments; the overview shows those decisions.
    store = Store.open(f"sqlite:///{demo_store_home / 'inferwatch.db'}")
    recorded = load_recorded_drift(store, datetime.now(UTC))
    assert set(recorded) == DEMO
    assert {dep: row.cells["drift"] for dep, row in rows.items()} == {
        dep: d.status.replace("_", " ") for dep, d in recorded.items()}
    # They also kept the Overview's window numbers, as of their last round.
    kept = load_kept_window(store, datetime.now(UTC), 3600, max_age_s=86400)
    assert kept is not None and {s.deployment for s in kept.statuses} == set(rows)
    last_round = max(r.finished_at for r in store.load_runs() if r.points_written)
    assert timedelta(0) <= kept.computed_at - last_round < timedelta(minutes=1)
