"""One collection round of 1,000 Lambda functions across 10 account-regions into PostgreSQL, against the
moto stand-in: wall time, API calls by action, rows written and the collector's peak memory; the same
round at 100 functions as a baseline; and two collector processes sharing the store, splitting the work.

    .venv/bin/python bench/collect_scale.py            # writes bench/results/collect_scale.json
    .venv/bin/python bench/collect_scale.py --code /tmp/main-checkout --out /tmp/before.json

Every round is the real command, ``inferwatch collect``, in a process of its own (peak RSS and CPU from
``wait4``), talking HTTP to moto (in another process, so its memory and CPU are not the collector's)
through the counting front door of the tests (in this process). Accounts are moto accounts reached by
AssumeRole (tests/collectors/aws_fleet.py). The store is a fresh schema of the test PostgreSQL
(``INFERWATCH_TEST_PG_URL`` or the local socket). ``--code`` runs another checkout's code with this
virtualenv (its folder goes first on PYTHONPATH): the numbers of the code before a change, same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.collectors.aws_fleet import Unit, deployments, fleet, seed_fleet
from tests.collectors.aws_standin import FrontDoor
from tests.conftest import _pg_schema_url, default_test_pg_url
from tests.shell.toml_text import toml_document

UNITS = 10
PER_UNIT = 100
SMALL_PER_UNIT = 10
LATENESS_S = 300
ROUND_S = 20  # [collect] interval_s: a unit is collected once per interval, so each round gets its own
PYTHON = sys.executable


@contextmanager
def standin() -> Iterator[str]:
    """The moto stand-in in its own process; yields its endpoint."""
    proc = subprocess.Popen([PYTHON, "-m", "tests.collectors.aws_fleet"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        yield str(json.loads(proc.stdout.readline())["endpoint"])
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


@contextmanager
def pg_schema() -> Iterator[str]:
    base = os.environ.get("INFERWATCH_TEST_PG_URL") or default_test_pg_url()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def write_home(home: Path, units: Sequence[Unit], per_unit: int, workers: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    doc = {"collect": {"step_s": 60, "lookback_s": 600, "lateness_s": LATENESS_S, "interval_s": ROUND_S,
                       "workers": workers},
           "deployments": deployments(units, per_unit)}
    (home / "inferwatch.toml").write_text(toml_document(doc), encoding="utf-8")


def collect_env(home: Path, store_url: str, door: str, code: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INFERWATCH_"))}
    return {**env, "INFERWATCH_HOME": str(home), "INFERWATCH_CONFIG": str(home / "inferwatch.toml"),
            "INFERWATCH_STORE_URL": store_url, "AWS_ENDPOINT_URL": door, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true", "PYTHONPATH": str(code),
            "INFERWATCH_AWS_MAX_ATTEMPTS": "6", "COLUMNS": "200"}


def start_collect(env: dict[str, str], code: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([PYTHON, "-c", "import sys; from shell.cli import main; sys.argv[0] = 'inferwatch'; "
                             "sys.exit(main())", "collect"], cwd=code, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], started: float) -> dict[str, Any]:
    """Wait for a collect process: its exit code, wall time, peak RSS and CPU, and its output."""
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    return {"exit_code": proc.returncode, "wall_s": round(wall_s, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "output": out, "stderr": err[-2000:]}


def store_counts(store_url: str, since_s: int) -> dict[str, Any]:
    engine = create_engine(store_url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT collector, status, points_written FROM collection_runs "
                                     "WHERE started_at >= :s"), {"s": since_s}).all()
            points = conn.execute(text("SELECT count(*) FROM metric_points")).scalar_one()
            rollups = conn.execute(text("SELECT count(*) FROM metric_rollups")).scalar_one()
    finally:
        engine.dispose()
    per_unit = Counter(r[0] for r in runs)
    return {"runs": len(runs), "statuses": dict(Counter(r[1] for r in runs)),
            "records_written": sum(int(r[2]) for r in runs), "metric_points_stored": int(points),
            "rollups_stored": int(rollups), "units_collected_twice": sum(1 for n in per_unit.values() if n > 1)}


def next_interval() -> None:
    """Sleep into a new ``ROUND_S`` interval (just after its start): a new round for every process."""
    time.sleep(ROUND_S - time.time() % ROUND_S + 0.3)


def one_round(door: FrontDoor, env: dict[str, str], code: Path, store_url: str) -> dict[str, Any]:
    next_interval()
    door.reset()
    since = int(time.time())
    started = time.perf_counter()
    result = finish(start_collect(env, code), started)
    calls = Counter(door.actions())
    return {**{k: v for k, v in result.items() if k not in ("output",)},
            "calls_by_action": dict(sorted(calls.items())), "calls": sum(calls.values()),
            **store_counts(store_url, since)}


def scenario(endpoint: str, door: FrontDoor, units: Sequence[Unit], per_unit: int, code: Path, workers: int,
             tmp: Path, rounds: int = 2) -> list[dict[str, Any]]:
    """``rounds`` collection rounds of a fresh store: a first run, then a steady one."""
    home = tmp / f"home-{uuid.uuid4().hex[:6]}"
    write_home(home, units, per_unit, workers)
    out = []
    with pg_schema() as store_url:
        env = collect_env(home, store_url, door.endpoint, code)
        for _ in range(rounds):
            out.append(one_round(door, env, code, store_url))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "collect_scale.json")
    parser.add_argument("--units", type=int, default=UNITS)
    parser.add_argument("--per-unit", type=int, default=PER_UNIT)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"collect-scale-{uuid.uuid4().hex[:6]}"
    units = fleet(args.units)
    with standin() as endpoint:
        door = FrontDoor(endpoint)
        started = time.perf_counter()
        seed_fleet(endpoint, units, args.per_unit, datetime.now(UTC))
        seed_s = time.perf_counter() - started
        print(f"seeded {args.units} x {args.per_unit} in {seed_s:.1f}s", file=sys.stderr)
        big = scenario(endpoint, door, units, args.per_unit, args.code.resolve(), args.workers, tmp)
        door.stop()
    result = {"units": args.units, "functions_per_unit": args.per_unit, "seed_s": round(seed_s, 1), "rounds": big}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
