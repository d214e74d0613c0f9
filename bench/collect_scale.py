"""Collection rounds of 1,000 Lambda functions across 10 account-regions into PostgreSQL, against the
moto stand-in: wall time, API calls by action, records written and the collector's peak memory and CPU;
the same rounds at 100 functions, and with the code before this work (``--before``), as baselines; and
two collector processes sharing the store, splitting the units.

    .venv/bin/python bench/collect_scale.py --before /tmp/checkout-of-c2ccb1c   # -> bench/results/collect_scale.json

Each scenario is a fresh store: a first round (configurations read, look-back) then a steady one (the
next interval); the main scenario then runs a round with two processes at once.

Every round is the real command, ``inferwatch collect``, in a process of its own (CPU from ``wait4``,
peak RSS from its own VmHWM), talking HTTP to moto (in another process, so its memory and CPU are not
the collector's)
through the counting front door of the tests (in this process). Accounts are moto accounts reached by
AssumeRole (tests/collectors/aws_fleet.py). The store is a fresh schema of the test PostgreSQL
(``INFERWATCH_TEST_PG_URL`` or the local socket). ``--before`` runs another checkout's code with this
virtualenv (its folder goes first on PYTHONPATH): the numbers of the code before, same machine, same run.
The stand-in is one Python process: under load it, not the collector, sets much of the wall time, so
the collector's own CPU time is reported too.
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
WORKERS = 4  # [collect] workers, the default
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


# The collect command, writing its own peak RSS (VmHWM, kB) to $PEAK_FILE as it exits: a child's ru_maxrss
# keeps the size of the process it was forked from (this one), so wait4 cannot say.
COLLECT = ("import os, re, sys\nfrom pathlib import Path\nfrom shell.cli import main\nsys.argv[0] = 'inferwatch'\n"
           "try:\n    sys.exit(main())\nfinally:\n    status = Path('/proc/self/status').read_text()\n"
           "    Path(os.environ['PEAK_FILE']).write_text(re.search(r'VmHWM:\\s+(\\d+)', status).group(1))\n")


def start_collect(env: dict[str, str], code: Path) -> subprocess.Popen[str]:
    peak = Path(env["INFERWATCH_HOME"]) / f"peak-{uuid.uuid4().hex}.kb"
    proc = subprocess.Popen([PYTHON, "-c", COLLECT, "collect"], cwd=code, env={**env, "PEAK_FILE": str(peak)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.peak_file = peak  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen[str], started: float) -> dict[str, Any]:
    """Wait for a collect process: its exit code, wall time, peak RSS and CPU, and its output."""
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    return {"pid": proc.pid, "exit_code": proc.returncode, "wall_s": round(wall_s, 2),
            "peak_rss_mb": round(int(proc.peak_file.read_text()) / 1024, 1),  # type: ignore[attr-defined]
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "output": out, "stderr": err[-2000:]}


def store_counts(store_url: str, since_s: int) -> dict[str, Any]:
    engine = create_engine(store_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT collector, status, points_written, finished_at - started_at "
                                     "FROM collection_runs WHERE started_at >= :s"), {"s": since_s}).all()
            points = conn.execute(text("SELECT count(*) FROM metric_points")).scalar_one()
            leases = conn.execute(text("SELECT pid, count(*) FROM collector_leases WHERE finished_at_ms >= :ms "
                                       "GROUP BY pid"), {"ms": since_s * 1000}).all() if conn.execute(text(
                "SELECT to_regclass('collector_leases')")).scalar() else []
    finally:
        engine.dispose()
    per_unit = Counter(r[0] for r in runs)
    unit_s = sorted(int(r[3]) for r in runs)
    return {"units_collected": len(per_unit), "runs": len(runs), "statuses": dict(Counter(r[1] for r in runs)),
            "records_written": sum(int(r[2]) for r in runs), "metric_points_stored": int(points),
            "unit_run_s": {"median": unit_s[len(unit_s) // 2], "max": unit_s[-1]} if unit_s else None,
            "units_collected_twice": sum(1 for n in per_unit.values() if n > 1),
            "units_by_pid": {int(pid): int(n) for pid, n in leases}}


def next_interval() -> None:
    """Sleep into a new ``ROUND_S`` interval (just after its start): a new round for every process."""
    time.sleep(ROUND_S - time.time() % ROUND_S + 0.3)


def one_round(door: FrontDoor, env: dict[str, str], code: Path, store_url: str, processes: int = 1) -> dict[str, Any]:
    next_interval()
    door.reset()
    since = int(time.time())
    started = time.perf_counter()
    procs = [start_collect(env, code) for _ in range(processes)]
    done = [finish(p, started) for p in procs]
    calls = Counter(door.actions())
    out: dict[str, Any] = {"processes": processes, "load_avg_1m": round(os.getloadavg()[0], 1),
                           "wall_s": max(d["wall_s"] for d in done), "exit_codes": [d["exit_code"] for d in done],
                           "peak_rss_mb": max(d["peak_rss_mb"] for d in done),
                           "cpu_s": round(sum(d["cpu_s"] for d in done), 2),
                           "calls": sum(calls.values()), "calls_by_action": dict(sorted(calls.items())),
                           **store_counts(store_url, since)}
    if processes > 1:
        out["per_process"] = [{"pid": d["pid"], "wall_s": d["wall_s"], "peak_rss_mb": d["peak_rss_mb"],
                               "cpu_s": d["cpu_s"], "units_collected": out["units_by_pid"].get(d["pid"], 0),
                               "units_skipped": d["output"].count(" skipped ")} for d in done]
    if any(d["exit_code"] for d in done):
        out["stderr"] = [d["stderr"] for d in done]
    return out


def scenario(door: FrontDoor, units: Sequence[Unit], per_unit: int, code: Path, tmp: Path, *,
             split: bool = False) -> list[dict[str, Any]]:
    """A first round and a steady one in a fresh store; with ``split``, then a round of two processes."""
    home = tmp / f"home-{uuid.uuid4().hex[:6]}"
    write_home(home, units, per_unit, WORKERS)
    with pg_schema() as store_url:
        env = collect_env(home, store_url, door.endpoint, code)
        out = [one_round(door, env, code, store_url) for _ in range(2)]
        if split:
            out.append(one_round(door, env, code, store_url, processes=2))
    for label, item in zip(("first", "steady", "two_processes"), out, strict=False):
        item["round"] = label
        print(f"{code.name} {per_unit}/unit {label}: {item['wall_s']} s, {item['calls']} calls", file=sys.stderr)
    return out


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def summary(after: list[dict[str, Any]], small: list[dict[str, Any]], before: list[dict[str, Any]] | None,
            ) -> dict[str, Any]:
    first, steady, split = after
    out: dict[str, Any] = {
        "first_round_wall_s": first["wall_s"], "steady_round_wall_s": steady["wall_s"],
        "steady_round_calls": steady["calls"], "peak_rss_mb": max(first["peak_rss_mb"], steady["peak_rss_mb"]),
        "rss_ratio_1000_over_100_functions": ratio(max(first["peak_rss_mb"], steady["peak_rss_mb"]),
                                                   max(r["peak_rss_mb"] for r in small)),
        "two_processes_wall_over_one": ratio(split["wall_s"], steady["wall_s"]),
        "two_processes_units": [p["units_collected"] for p in split["per_process"]],
        "two_processes_units_collected_twice": split["units_collected_twice"],
    }
    if before is not None:
        for label, mine, theirs in (("first", first, before[0]), ("steady", steady, before[1])):
            out[f"before_over_after_{label}"] = {key: ratio(theirs[key], mine[key])
                                                 for key in ("wall_s", "cpu_s", "calls", "peak_rss_mb")}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, help="a checkout of the code before, run with this virtualenv")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "collect_scale.json")
    parser.add_argument("--units", type=int, default=UNITS)
    parser.add_argument("--per-unit", type=int, default=PER_UNIT)
    args = parser.parse_args(argv)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"collect-scale-{uuid.uuid4().hex[:6]}"
    units = fleet(args.units)
    result: dict[str, Any] = {"units": args.units, "functions_per_unit": args.per_unit, "aliases_per_function": 1,
                              "workers": WORKERS, "cpus": os.cpu_count(), "load_avg_1m_at_start": os.getloadavg()[0]}
    with standin() as endpoint:
        door = FrontDoor(endpoint)
        started = time.perf_counter()
        seed_fleet(endpoint, units, args.per_unit, datetime.now(UTC))
        result["seed_s"] = round(time.perf_counter() - started, 1)
        after = scenario(door, units, args.per_unit, ROOT, tmp, split=True)
        small = scenario(door, units, SMALL_PER_UNIT, ROOT, tmp)
        before = scenario(door, units, args.per_unit, args.before.resolve(), tmp) if args.before else None
        door.stop()
    result |= {"summary": summary(after, small, before), "after": after, f"after_{SMALL_PER_UNIT}_per_unit": small,
               "before": before}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=2))
    return 0 if all(not r["exit_codes"][0] for r in after) else 1


if __name__ == "__main__":
    sys.exit(main())
