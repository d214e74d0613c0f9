"""A run killed in the middle of write_batch leaves no partial window and the cursor where it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from inferwatch.schema import Metric
from inferwatch.store import Store
from tests.store.store_worker import DEPLOYMENTS, METRICS, T0, run_record, step_batch, value_of

REPO = Path(__file__).resolve().parents[2]


def _wait_for(marker: Path, child: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not marker.exists():
        assert child.poll() is None, f"child exited early: {child.communicate()[1].decode()[-2000:]}"
        assert time.monotonic() < deadline, "child never reached the middle of write_batch"
        time.sleep(0.05)


def test_killed_write_batch_leaves_nothing_and_cursor_unmoved(store_url: str, tmp_path: Path) -> None:
    store = Store.open(store_url)
    store.write_batch(step_batch(0), run_record())
    before_points = store.count("metric_points")
    before_rollups = store.load_metrics(resolution_s=3600)
    marker = tmp_path / "inside"
    child = subprocess.Popen([sys.executable, "-m", "tests.store.store_worker", "midway", store_url, str(marker)],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for(marker, child)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL

    assert store.count("metric_points") == before_points
    assert store.load_metrics(deployments=["local:test:bulk-0"]) == []
    window = {(p.deployment, p.metric): p.value for p in store.load_metrics(end=T0 + timedelta(minutes=1))}
    assert window == {(d, m.value): value_of(d, m.value, 0) for d in DEPLOYMENTS for m in METRICS}
    assert store.load_metrics(resolution_s=3600) == before_rollups
    assert store.load_cursor("collector-under-test") == {"step": 0}
    assert len(store.load_runs()) == 1

    # The killed writer's lock is gone: the next run lands at once.
    started = time.monotonic()
    store.write_batch(step_batch(1), run_record())
    assert time.monotonic() - started < 10
    assert store.load_cursor("collector-under-test") == {"step": 1}
    assert sum(p.value for p in store.load_metrics(metrics=[Metric.INVOCATIONS.value])) == sum(
        value_of(d, Metric.INVOCATIONS.value, s) for d in DEPLOYMENTS for s in (0, 1))
    store.dispose()
