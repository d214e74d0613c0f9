"""Two overlapping runs send nothing twice (the lock), and a run killed between sending and
recording makes the next run resend the SAME notification id (receivers deduplicate), never a new page."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.errors import LockHeldError
from inferwatch.store import Store
from shell.alert_job import EXIT_OK, EXIT_TEMPFAIL, run_once
from shell.alert_lock import job_lock
from shell.runtime import Runtime
from tests.alerts.builders import DEP, fill_store, runtime, traffic_points
from tests.alerts.receivers import WebhookReceiver

CONFIG = """
[alerts]
backoff_base = 1

[notifiers.hook]
type = "webhook"
timeout = 20
"""


@pytest.fixture()
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def job_env(home: Path, hook: WebhookReceiver) -> dict[str, str]:
    (home / "inferwatch.toml").write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERWATCH_")}
    return env | {"INFERWATCH_HOME": str(home), "INFERWATCH_CONFIG": str(home / "inferwatch.toml"),
                  "INFERWATCH_WEBHOOK_URL": hook.url}


def failing_now(home: Path, env: dict[str, str]) -> Store:
    store = Runtime.from_env(env).open_store()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fill_store(store, traffic_points(DEP.id, now - timedelta(hours=1), 70, errors=20))
    return store


def spawn(env: dict[str, str], *, capture: bool = True) -> subprocess.Popen[str]:
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "shell.alert_job"], env=env, text=True, stdout=out, stderr=out)


def test_two_concurrent_runs_send_nothing_twice(tmp_path: Path, hook: WebhookReceiver) -> None:
    env = job_env(tmp_path, hook)
    store = failing_now(tmp_path, env)
    hook.mode, hook.slow_s = "slow", 1.0  # the first run holds the lock while it sends
    procs = [spawn(env) for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append((p.returncode, out, err))
    codes = sorted(code for code, _, _ in results)
    assert codes in ([EXIT_OK, EXIT_OK], [EXIT_OK, EXIT_TEMPFAIL]), results
    assert len(hook.received) == len(hook.unique()) == 1
    if EXIT_TEMPFAIL in codes:
        (line,) = [err for code, _, err in results if code == EXIT_TEMPFAIL]
        assert line.strip().startswith("inferwatch alerts: skipped: another alert run holds")
    assert store.load_outbox(status="pending") == []


def test_in_process_runs_in_threads_send_nothing_twice(store_url: str, tmp_path: Path,
                                                        hook: WebhookReceiver) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    rt = replace(runtime(tmp_path, {"notifiers": {"hook": {"type": "webhook"}}},
                         {"INFERWATCH_WEBHOOK_URL": hook.url}), store_url=store_url)
    store = rt.open_store()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fill_store(store, traffic_points(DEP.id, now - timedelta(hours=1), 70, errors=20))
    hook.mode, hook.slow_s = "slow", 0.5
    with ThreadPoolExecutor(4) as pool:
        codes = sorted(f.result().exit_code for f in [pool.submit(run_once, rt) for _ in range(4)])
    assert codes[0] == EXIT_OK and set(codes) <= {EXIT_OK, EXIT_TEMPFAIL}
    assert len(hook.received) == len(hook.unique()) == 1
    assert store.load_outbox(status="pending") == []
    store.dispose()


def test_run_killed_between_send_and_record_resends_the_same_id(tmp_path: Path, hook: WebhookReceiver) -> None:
    env = job_env(tmp_path, hook)
    store = failing_now(tmp_path, env)
    hook.mode = "block"  # the receiver has the message; the sender never hears back
    proc = spawn(env, capture=False)
    try:
        assert hook.arrived.wait(60), "the job never sent"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    hook.mode = "up"
    hook.release.set()
    (pending,) = store.load_outbox(status="pending")  # the send was never recorded
    assert pending.attempts == 0
    result = run_once(Runtime.from_env(env))  # the lock died with the process
    assert result.exit_code == EXIT_OK, result.message
    ids = [r.id for r in hook.received]
    assert ids == [pending.id, pending.id]  # same id again: the receiver drops it; no new page
    first, second = (r.body for r in hook.received)
    assert first == second


def test_lock_is_single_flight_on_sqlite_and_postgresql(store_url: str, tmp_path: Path) -> None:
    a, b = Store.open(store_url), Store.open(store_url)
    try:
        with job_lock(a, tmp_path), pytest.raises(LockHeldError), job_lock(b, tmp_path):
            pass
        with job_lock(b, tmp_path):
            pass  # released
    finally:
        a.dispose()
        b.dispose()
