"""The scale benchmark (bench/collect_scale.py) in small: 40 functions across 4 account-regions, two
rounds of the real ``inferwatch collect`` into the store, with the calls each round makes counted at
the stand-in's front door and the process's peak memory from ``wait4``."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from inferwatch.store import Store
from tests.collectors.aws_standin import shared
from tests.collectors.test_work_split import seeded, start_collect, write_home

UNITS = 4
PER_UNIT = 10  # 10 functions, each with one alias: 260 queries, one GetMetricData call per unit


def one_round(home: Path, store_url: str) -> tuple[Counter[str], float]:
    """Calls by action and peak RSS (MB) of one ``collect`` process, started in an interval of its own."""
    time.sleep(5 - time.time() % 5 + 0.2)  # interval_s = 5: a new round
    door = shared()[1]
    door.reset()
    with (home / "collect.out").open("w+") as output:  # a file, not a pipe: wait4 cannot block on it
        proc = start_collect(home, store_url, door.endpoint, output, peak_file=home / "peak.kb")
        _, status, _ = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        assert proc.returncode == 0, output.read()
    return Counter(door.actions()), int((home / "peak.kb").read_text()) / 1024


def lambda_calls(calls: Counter[str]) -> int:
    return sum(n for action, n in calls.items() if action.startswith("lambda:"))


@pytest.mark.slow
def test_forty_functions_in_four_account_regions_at_a_bounded_cost(store_url: str, tmp_path: Path) -> None:
    units = seeded("scale", UNITS, per_unit=PER_UNIT)
    write_home(tmp_path, units, workers=4, lease_s=30, interval_s=5, per_unit=PER_UNIT)
    first, first_rss_mb = one_round(tmp_path, store_url)
    steady, steady_rss_mb = one_round(tmp_path, store_url)
    functions = UNITS * PER_UNIT
    expected: dict[str, Any] = {"sts:AssumeRole": UNITS, "cloudwatch:GetMetricData": UNITS,
                                "logs:FilterLogEvents": functions, "cloudwatch:ListMetrics": UNITS}
    assert {a: first[a] for a in expected} == expected  # one role, one GetMetricData, one listing per unit
    assert lambda_calls(first) == 4 * functions  # configurations read once...
    assert lambda_calls(steady) == 0  # ...then kept in the cursor
    assert steady["sts:AssumeRole"] == UNITS and steady["cloudwatch:GetMetricData"] == UNITS
    assert steady["logs:FilterLogEvents"] == functions
    store = Store.open(store_url)
    runs = store.load_runs()
    assert Counter(r.collector for r in runs) == Counter({u.name: 2 for u in units})
    assert {r.status for r in runs} == {"ok"}
    assert max(first_rss_mb, steady_rss_mb) < 300, (first_rss_mb, steady_rss_mb)
