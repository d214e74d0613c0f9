"""Window lines at the end of a real process: at exit, on SIGTERM (alone and chained to the app's own
handler), and a forked worker as an instance of its own."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.probe.linecheck import check_line

PRELUDE = """
import os, signal, sys, time
from inferwatch_probe import Probe
def work(probe, n):
    for i in range(n):
        with probe.invocation() as inv:
            inv.record(scores=[0.5 + i / 100])
"""


def _run(tmp_path: Path, body: str, *,
         sigterm: bool = False) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    script = tmp_path / "app.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    env = {"PATH": "/usr/bin:/bin", "INFERWATCH_TELEMETRY_DIR": str(tmp_path / "telemetry"),
           "INFERWATCH_DEPLOYMENT": "scorer", "INFERWATCH_MODEL_VERSION": "v1", "INFERWATCH_TASK": "binary",
           "INFERWATCH_PROBE_MODE": "window", "INFERWATCH_FLUSH_S": "3600"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if sigterm:
        assert proc.stderr is not None
        assert proc.stderr.readline().strip() == "READY"
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    lines = [check_line(line) for f in sorted((tmp_path / "telemetry").glob("*.jsonl"))
             for line in f.read_text().splitlines()]
    return done, lines


def test_the_window_is_written_at_exit(tmp_path: Path) -> None:
    done, lines = _run(tmp_path, """
        probe = Probe()
        work(probe, 3)
    """)
    assert done.returncode == 0, done.stderr
    assert [(d["reason"], d["invocations"]["ok"], d["signals"]["score"]["count"]) for d in lines] == [("exit", 3, 3)]


def test_sigterm_writes_the_window_and_then_terminates(tmp_path: Path) -> None:
    done, lines = _run(tmp_path, """
        probe = Probe()
        work(probe, 4)
        print("READY", file=sys.stderr, flush=True)
        time.sleep(30)
    """, sigterm=True)
    assert done.returncode == -signal.SIGTERM  # the default action still happens
    assert [(d["reason"], d["invocations"]["ok"]) for d in lines] == [("sigterm", 4)]


def test_sigterm_chains_the_apps_own_handler(tmp_path: Path) -> None:
    done, lines = _run(tmp_path, """
        stopping = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))  # a graceful server's
        probe = Probe()
        work(probe, 2)
        print("READY", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 30
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.01)
        work(probe, 1)  # draining: a last request after SIGTERM
        print("graceful", stopping, file=sys.stderr)
    """, sigterm=True)
    assert done.returncode == 0 and "graceful [15]" in done.stderr, done.stderr
    assert [(d["reason"], d["invocations"]["ok"]) for d in lines] == [("sigterm", 2), ("exit", 1)]


def test_a_forked_worker_is_an_instance_of_its_own(tmp_path: Path) -> None:
    done, lines = _run(tmp_path, """
        probe = Probe()
        work(probe, 2)
        pid = os.fork()
        if pid == 0:
            work(probe, 5)
            sys.exit(0)
        os.waitpid(pid, 0)
        work(probe, 1)
    """)
    assert done.returncode == 0, done.stderr
    by_count = {d["invocations"]["ok"]: d for d in lines}
    assert sorted(by_count) == [3, 5]  # the child does not repeat its parent's two
    child, parent = by_count[5], by_count[3]
    assert child["instance_id"] != parent["instance_id"]
    assert child["cold_starts"] == 1 and parent["cold_starts"] == 1
    assert json.dumps(child["signals"]["score"]["values"]) == json.dumps([0.5, 0.51, 0.52, 0.53, 0.54])
