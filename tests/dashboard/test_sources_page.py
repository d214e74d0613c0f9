"""The Sources page counts the inputs collection quarantined and lists the newest with file, offset and reason."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from collectors.local import LocalCollector
from collectors.runner import run_one, run_round
from inferwatch.store import Store
from tests.dashboard.test_overview import APP

PAGE = str(Path(APP).parent / "dashboard" / "pages" / "sources.py")


def line(ts: datetime) -> str:
    return json.dumps({"_aws": {"Timestamp": int(ts.timestamp() * 1000)}, "Deployment": "scorer-v1",
                       "ModelVersion": "v1", "Status": "ok", "LatencyMs": 4.0})


def test_quarantined_lines_are_counted_and_listed(home: Path) -> None:
    now = datetime.now(UTC)
    good = line(now - timedelta(seconds=90))
    path = home / "telemetry" / "scorer-v1" / "i1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(f"{good}\n[[[[NaN]]]]\n{line(now + timedelta(days=365))}\n{good}\n")
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    run_one(store, LocalCollector(home, []), clock=lambda: now)

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    sources = at.dataframe[0].value
    assert sources.set_index("collector").loc["local", "quarantined"] == 2
    assert any(w.value.startswith("2 inputs were quarantined") for w in at.warning)
    listed = at.dataframe[1].value
    assert sorted(listed["position"]) == [len(good) + 1, len(good) + 1 + len("[[[[NaN]]]]\n")]
    assert set(listed["source"]) == {str(path)}
    assert any("ahead of the collector's clock" in r for r in listed["reason"])


def test_the_host_that_collects_each_source_is_shown(home: Path) -> None:
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    run_round(store, [LocalCollector(home, [])])  # leases the unit "local" in this process
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value.set_index("collector").loc["local", "host"] == socket.gethostname()
