"""Collector processes sharing one store split the units between them: real ``inferwatch collect``
processes (and rounds in threads with stores of their own) against the moto stand-in, with accounts
reached by AssumeRole (tests/collectors/aws_fleet.py). Every unit is collected once per round, nothing
is written twice, and the units of a holder killed mid-round are taken over once its leases expire."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.aws import from_settings
from collectors.base import CollectorContext
from collectors.runner import Round, run_round
from inferwatch.config import parse_settings
from inferwatch.store import Store
from tests.collectors.aws_fleet import Unit, deployments, fleet, seed_unit
from tests.collectors.aws_standin import TEST_ENV, shared
from tests.shell.toml_text import toml_document

ROOT = Path(__file__).resolve().parents[2]
PER_UNIT = 6
ROUND_S = 3600


def seeded(prefix: str, units: int = 4, *, per_unit: int = PER_UNIT) -> list[Unit]:
    moto, _ = shared()
    out = fleet(units, prefix=f"{prefix}{uuid.uuid4().hex[:6]}")  # one stand-in serves every test
    at = datetime.now(UTC).replace(second=0, microsecond=0)
    for unit in out:
        seed_unit(moto.endpoint, unit, per_unit, at)
    return out


def clear_of_round_boundary(margin_s: float = 90.0) -> None:
    """Processes of one test must share a round (an ``interval_s`` interval): never start near its end."""
    left = ROUND_S - time.time() % ROUND_S
    if left < margin_s:
        time.sleep(left + 1)


def write_home(home: Path, units: list[Unit], *, workers: int, lease_s: int, interval_s: int = ROUND_S,
               per_unit: int = PER_UNIT) -> None:
    home.mkdir(parents=True, exist_ok=True)
    doc = {"collect": {"step_s": 60, "lookback_s": 600, "lateness_s": 300, "interval_s": interval_s,
                       "workers": workers, "lease_s": lease_s},
           "deployments": deployments(units, per_unit)}
    (home / "inferwatch.toml").write_text(toml_document(doc), encoding="utf-8")


def start_collect(home: Path, store_url: str, endpoint: str, output: Any = subprocess.PIPE,
                  peak_file: Path | None = None) -> subprocess.Popen[str]:
    """``inferwatch collect`` in a process of its own; with ``peak_file``, it writes its peak RSS (VmHWM,
    kB) there as it exits (rusage cannot say: a child's ru_maxrss keeps the size of the parent it forked
    from, and pytest's grows with the tests before)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INFERWATCH_"))}
    env |= {**TEST_ENV, "INFERWATCH_HOME": str(home), "INFERWATCH_CONFIG": str(home / "inferwatch.toml"),
            "INFERWATCH_STORE_URL": store_url, "AWS_ENDPOINT_URL": endpoint, "AWS_EC2_METADATA_DISABLED": "true",
            "INFERWATCH_AWS_MAX_ATTEMPTS": "2", "COLUMNS": "250", "NO_COLOR": "1"}
    code = "import sys; from shell.cli import main; sys.argv[0] = 'inferwatch'; sys.exit(main())"
    if peak_file is not None:
        code = ("import re, sys\nfrom pathlib import Path\nfrom shell.cli import main\nsys.argv[0] = 'inferwatch'\n"
                "try:\n    sys.exit(main())\nfinally:\n"
                "    status = Path('/proc/self/status').read_text()\n"
                f"    Path({str(peak_file)!r}).write_text(re.search(r'VmHWM:\\s+(\\d+)', status).group(1))\n")
    return subprocess.Popen([sys.executable, "-c", code, "collect"], cwd=ROOT, env=env, stdout=output,
                            stderr=subprocess.STDOUT if output is not subprocess.PIPE else subprocess.PIPE, text=True)


def output(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, out + err
    return out


def lines_of(out: str, units: list[Unit]) -> dict[str, str]:
    """Each unit's line of ``collect``'s output."""
    found = {}
    for line in out.splitlines():
        for unit in units:
            if line.startswith(unit.name + " "):
                found[unit.name] = line[len(unit.name):].strip()
    return found


@pytest.fixture()
def black_hole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers: a collector stuck mid-round."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.mark.slow
def test_two_collect_processes_split_the_units_and_collect_each_once(store_url: str, tmp_path: Path) -> None:
    units = seeded("split")
    write_home(tmp_path, units, workers=1, lease_s=30)
    Store.open(store_url).dispose()  # the schema exists before two processes race to make it
    clear_of_round_boundary()
    procs = [start_collect(tmp_path, store_url, shared()[1].endpoint) for _ in range(2)]
    outs = [output(p) for p in procs]
    store = Store.open(store_url)
    runs = store.load_runs()
    assert sorted(r.collector for r in runs) == sorted(u.name for u in units)  # each unit once
    assert {r.status for r in runs} == {"ok"}
    stored = len(store.load_metrics(metrics=None, step_s=60))
    assert stored == sum(r.points_written for r in runs) > 0  # nothing written twice
    leases = {lease.unit: lease for lease in store.load_leases()}
    assert set(leases) == {u.name for u in units} and all(lease.finished_at for lease in leases.values())
    assert {lease.pid for lease in leases.values()} <= {p.pid for p in procs}
    per_process = [lines_of(out, units) for out in outs]
    for unit in units:  # collected by one process, listed as skipped by the other, never a failure
        states = sorted(lines[unit.name].split()[0] for lines in per_process)
        assert states == ["ok", "skipped"], (unit.name, outs)
        skipped = next(lines[unit.name] for lines in per_process if lines[unit.name].startswith("skipped"))
        holder = leases[unit.name]
        assert f"by {holder.host} (pid {holder.pid})" in skipped


@pytest.mark.slow
def test_rounds_on_separate_connections_share_the_units(store_url: str) -> None:
    units = seeded("threads")
    settings = parse_settings({"collect": {"step_s": 60, "lookback_s": 600, "lateness_s": 300},
                               "deployments": deployments(units, PER_UNIT)})
    ctx = CollectorContext(home=Path("/nonexistent"), env=TEST_ENV, endpoints={"aws": shared()[1].endpoint})
    Store.open(store_url).dispose()
    stores = [Store.open(store_url, create=False) for _ in range(2)]
    barrier = threading.Barrier(2)
    rounds: list[Round] = []
    clear_of_round_boundary()

    def host(store: Store) -> None:
        collectors = from_settings(settings, ctx)  # each host builds its own
        barrier.wait()
        rounds.append(run_round(store, collectors, workers=1, round_s=ROUND_S))

    threads = [threading.Thread(target=host, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    collected = Counter(run.collector for r in rounds for run in r.runs)
    assert collected == Counter({u.name: 1 for u in units})
    assert all(r.runs for r in rounds), "each host took at least one unit"
    assert sorted(s.lease.unit for r in rounds for s in r.skipped) == sorted(u.name for u in units)
    for store in stores:
        store.dispose()


@pytest.mark.slow
def test_a_killed_holders_units_are_taken_over_once_its_leases_expire(store_url: str, tmp_path: Path,
                                                                      black_hole: str) -> None:
    units = seeded("killed")
    write_home(tmp_path, units, workers=2, lease_s=12)
    store = Store.open(store_url)
    clear_of_round_boundary()
    stuck = start_collect(tmp_path, store_url, black_hole)  # takes two units, then hangs on AWS
    held = wait_for_leases(store, stuck.pid, 2)
    os.kill(stuck.pid, signal.SIGKILL)
    stuck.communicate(timeout=30)
    second = lines_of(output(start_collect(tmp_path, store_url, shared()[1].endpoint)), units)
    for name in held:  # its leases have not expired yet: left alone, not failed
        state, _, why = second[name].partition(" ")
        assert state == "skipped" and why.strip().startswith(f"held by {socket.gethostname()} (pid {stuck.pid}) until")
    assert sorted(n for n, line in second.items() if line.startswith("ok")) == sorted(
        u.name for u in units if u.name not in held)
    time.sleep(max(0.0, max(lease.expires_at for lease in store.load_leases() if lease.unit in held).timestamp()
                   - store.lease_clock().timestamp()) + 0.5)
    third = lines_of(output(start_collect(tmp_path, store_url, shared()[1].endpoint)), units)
    assert sorted(n for n, line in third.items() if line.startswith("ok")) == sorted(held)
    assert all("during this round" in line for n, line in third.items() if n not in held)
    runs = Counter(r.collector for r in store.load_runs())
    assert runs == Counter({u.name: 1 for u in units})  # the killed process wrote nothing


def wait_for_leases(store: Store, pid: int, count: int, timeout_s: float = 60.0) -> set[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        held = {lease.unit for lease in store.load_leases() if lease.pid == pid}
        if len(held) >= count:
            return held
        time.sleep(0.2)
    raise AssertionError(f"process {pid} took no {count} leases in {timeout_s} s")

