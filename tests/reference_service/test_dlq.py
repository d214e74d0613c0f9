from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from typer.testing import CliRunner

from reference_service.dlq import DurableQueue

from .conftest import ServerProcess, start_server


def test_queue_lifecycle_retries_then_dead_letters(tmp_path: Path) -> None:
    now = [100.0]
    q = DurableQueue(tmp_path / "q.sqlite3", clock=lambda: now[0])
    a = q.enqueue(b"a", request_id="ra")
    b = q.enqueue(b"b")
    job = q.claim(lease_s=10)
    assert job is not None and job.id == a and job.attempts == 1 and job.payload == b"a" and job.request_id == "ra"
    assert q.fail(a, "500 boom", retryable=True, max_attempts=2) == "pending"
    assert q.claim(10).id == a  # type: ignore[union-attr]
    assert q.fail(a, "500 boom", retryable=True, max_attempts=2) == "dead"
    job_b = q.claim(10)
    assert job_b is not None and job_b.id == b
    assert q.fail(b, "400 bad", retryable=False, max_attempts=5) == "dead"
    assert q.counts() == {"dead": 2} and [j.id for j in q.dead_letters()] == [a, b]
    assert q.requeue(a) and not q.requeue("missing")
    assert q.claim(10).id == a  # type: ignore[union-attr]
    q.complete(a)
    assert q.counts() == {"dead": 1, "done": 1}


def test_a_dead_workers_lease_runs_out_and_the_job_is_claimed_again(tmp_path: Path) -> None:
    now = [0.0]
    q = DurableQueue(tmp_path / "q.sqlite3", clock=lambda: now[0])
    job_id = q.enqueue(b"x")
    assert q.claim(5) is not None and q.claim(5) is None
    now[0] = 6.0
    again = q.claim(5)
    assert again is not None and again.id == job_id and again.attempts == 2


def test_kill_mid_run_loses_nothing(tmp_path: Path, heldout: NDArray[np.float32]) -> None:
    env = {"INFERWATCH_FAULT_SLOW_RATE": "1", "INFERWATCH_FAULT_SLOW_MS": "40", "INFERWATCH_FAULT_ERROR_RATE": "0.3",
           "INFERWATCH_TIMEOUT_S": "1", "INFERWATCH_CONCURRENCY": "1"}
    first: ServerProcess = start_server(env, tmp_path)
    headers = {"X-Inferwatch-Invocation-Type": "Event", "Content-Type": "application/json"}
    accepted = []
    for i in range(40):
        body = {"instances": heldout[i:i + 1].tolist()} if i % 10 else {"instances": [[1.0]]}
        code, answer = first.request("POST", "/predict", json.dumps(body).encode(), headers)
        assert code == 202
        accepted.append(answer["request_id"])
    first.proc.send_signal(signal.SIGKILL)  # mid-run: jobs are pending and one is running
    first.proc.wait(10)
    first.close()
    queue = DurableQueue(tmp_path / "home" / "dlq" / "queue.sqlite3")
    assert sum(queue.counts().values()) == 40 and queue.counts().get("pending", 0) > 0
    second = start_server(env, tmp_path)  # resumes the work left behind
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and set(queue.counts()) - {"done", "dead"}:
            time.sleep(0.2)
    finally:
        second.stop()
    jobs = queue.jobs()
    assert sorted(j.id for j in jobs) == sorted(accepted)
    assert {j.state for j in jobs} == {"done", "dead"}
    dead = [j for j in jobs if j.state == "dead"]
    assert all(j.last_error and (j.last_error.startswith("400") or j.attempts >= 3) for j in dead)
    assert sum(1 for j in dead if j.last_error and j.last_error.startswith("400")) == 4


def test_cli_lists_and_replays(tmp_path: Path) -> None:
    from shell.cli import app

    q = DurableQueue(tmp_path / "dlq" / "queue.sqlite3")
    first = q.put_dead(b'{"instances": []}', "400 invalid request")
    q.put_dead(b"{}", "500 boom")
    runner = CliRunner()
    result = runner.invoke(app, ["--home", str(tmp_path), "dlq", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed: list[dict[str, Any]] = json.loads(result.output)
    assert {j["id"] for j in listed} >= {first} and all(j["state"] == "dead" for j in listed)
    result = runner.invoke(app, ["--home", str(tmp_path), "dlq", "replay", first])
    assert result.exit_code == 0 and "requeued" in result.output
    assert q.counts() == {"dead": 1, "pending": 1}
    result = runner.invoke(app, ["--home", str(tmp_path), "dlq", "replay", "--url", "http://127.0.0.1:9/predict",
                                 "--timeout-s", "2"])
    assert result.exit_code == 1 and q.counts()["dead"] == 1  # unreachable: kept, not lost
