"""The spine end to end: the real demo (emulator processes, load, collector, store), then
`inferwatch status --json` and Streamlit's AppTest on the store it filled."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from inferwatch.drift_status import load_recorded_drift
from inferwatch.overview import load_kept_window
from inferwatch.store import Store
from tests.dashboard.conftest import clean_env, inferwatch_bin
from tests.dashboard.status_html import read_status_table
from tests.dashboard.test_overview import APP


def test_demo_fills_the_store_with_both_deployments(demo_home: Path) -> None:
    out = subprocess.run([inferwatch_bin(), "status", "--json", "--window", "3600"], env=clean_env(demo_home),
                         cwd=demo_home, capture_output=True, text=True, check=True, timeout=60)
    rows = {r["deployment"]: r for r in json.loads(out.stdout)["deployments"]}
    assert set(rows) == {"local:local:scorer-v1", "local:local:scorer-v2"}
    for row in rows.values():
        assert row["invocations"] > 0
        assert row["p95_ms"] > 0
        assert row["cold_starts"] >= 1


def test_cold_starts_equal_instance_processes_started(demo_home: Path) -> None:
    """Every telemetry file is one instance process; each started cold exactly once."""
    telemetry = demo_home / "telemetry"
    for deployment_dir in telemetry.iterdir():
        instances = {p.name.split(".", 1)[0] for p in deployment_dir.glob("*.jsonl")}
        cold = sum(json.loads(line).get("ColdStart", 0) for p in deployment_dir.glob("*.jsonl")
                   for line in p.read_text().splitlines() if line.strip())
        assert instances and cold == len(instances), deployment_dir.name


def test_overview_renders_the_demo_deployments(demo_store_home: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    rows = read_status_table(at.html[0].value)
    assert set(rows) == {"local:local:scorer-v1", "local:local:scorer-v2"}
    for row in rows.values():
        assert int(row.cells["invocations"].replace(",", "")) > 0
        assert row.cells["$ / 1k predictions"].startswith("$")
        assert len(row.sparklines) == 2 and "peak 0," not in row.sparklines[1]  # traffic in the trend
    # The demo's collection rounds decided drift for both deployments; the overview shows those decisions.
    store = Store.open(f"sqlite:///{demo_store_home / 'inferwatch.db'}")
    recorded = load_recorded_drift(store, datetime.now(UTC))
    assert set(recorded) == {"local:local:scorer-v1", "local:local:scorer-v2"}
    assert {dep: row.cells["drift"] for dep, row in rows.items()} == {
        dep: d.status.replace("_", " ") for dep, d in recorded.items()}
    # They also kept the Overview's window numbers, as of their last round.
    kept = load_kept_window(store, datetime.now(UTC), 3600, max_age_s=86400)
    assert kept is not None and {s.deployment for s in kept.statuses} == set(rows)
    last_round = max(r.finished_at for r in store.load_runs() if r.points_written)
    assert timedelta(0) <= kept.computed_at - last_round < timedelta(minutes=1)
