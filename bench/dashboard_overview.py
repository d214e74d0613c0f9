"""Benchmark: the Overview's first render in real Chromium with 50 deployments x 30 days of 1-minute
data, against the same page on an empty store in the same run; and switching the range to 30 days.

Goal (issue 8): full-store time <= 1.5x the empty-store time and <= 2 s, for both.
The empty store's page shows an info box and loads no chart code; a third, minimal store (one
deployment, one day) renders the same charts and table as the full one, so full/minimal is what the
data volume itself costs. Each filled store is measured right after a collection round's work
(drift decided, the Overview's window numbers kept), as the dashboard runs next to the collector.
Each measured load has a cold data cache but for the whole past buckets of long-range sparklines,
which the dashboard keeps for 10 minutes (dashboard.data.PAST_BUCKETS_TTL_S): the warm-up load has
read them, as anyone who opened that range in the last 10 minutes has.
Run: .venv/bin/python bench/dashboard_overview.py [--deployments 50] [--days 30] [--runs 5]
Writes bench/results/dashboard_overview.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.filters import DEFAULT_RANGE
from inferwatch.config import Settings
from inferwatch.schema import (
    CollectionRun,
    Deployment,
    Metric,
    floor_time,
)
from inferwatch.store import Store
from readmodels.sources import stale_after_s
from tests.dashboard.conftest import CHROME_ARGS, CHROMIUM, clean_env, inferwatch_bin, serve, stop

METRICS = (Metric.INVOCATIONS, Metric.ROWS, Metric.LATENCY_P50, Metric.LATENCY_P95, Metric.LATENCY_P99,
           Metric.LATENCY_AVG, Metric.LATENCY_MAX, Metric.DURATION_SUM, Metric.BILLED_DURATION_SUM,
           Metric.SERVER_ERRORS, Metric.CLIENT_ERRORS, Metric.COLD_STARTS, Metric.INIT_AVG, Metric.MEMORY_MAX_USED,
           Metric.CONCURRENCY_MAX)
HISTOGRAM_HOURS = 2  # drift reads the last 45 minutes; older histograms only deepen the index
AHEAD = timedelta(hours=6)  # data runs this far past "now" so a kept store serves a full window for 6 hours


def deployments(n: int) -> list[Deployment]:
    return [Deployment(id=f"aws:us-east-1:fn-{i:02d}", provider="aws", region="us-east-1", name=f"fn-{i:02d}",
                       service=f"svc-{i // 2:02d}", model_version=("v1", "v2")[i % 2], memory_mb=1024,
                       architecture=("x86_64", "arm64")[i % 2]) for i in range(n)]


def minute_values(rng: np.random.Generator, n: int) -> dict[Metric, np.ndarray]:
    """One deployment's 1-minute series: Poisson traffic with a daily cycle, gamma latencies."""
    daily = 1 + 0.6 * np.sin(np.arange(n) * 2 * np.pi / 1440)
    inv = rng.poisson(30 * daily).astype(float)
    p50 = rng.gamma(4, 5, n)
    cold = rng.poisson(0.05, n).astype(float)
    return {Metric.INVOCATIONS: inv, Metric.ROWS: inv * 2, Metric.LATENCY_P50: p50,
            Metric.LATENCY_P95: p50 * 2.5, Metric.LATENCY_P99: p50 * 4, Metric.LATENCY_AVG: p50 * 1.2,
            Metric.LATENCY_MAX: p50 * 6, Metric.DURATION_SUM: inv * p50 * 1.2,
            Metric.BILLED_DURATION_SUM: inv * np.ceil(p50 * 1.2), Metric.SERVER_ERRORS: rng.poisson(0.02, n),
            Metric.CLIENT_ERRORS: rng.poisson(0.05, n), Metric.COLD_STARTS: cold,
            Metric.INIT_AVG: np.where(cold > 0, rng.gamma(9, 40, n), 0.0), Metric.MEMORY_MAX_USED: rng.normal(180, 5,
                                                                                                              n),
            Metric.CONCURRENCY_MAX: np.maximum(1, rng.poisson(2 * daily))}


def fill(home: Path, n_deployments: int, days: int) -> dict[str, float]:
    """Bulk-load the store (executemany straight into its tables, then one rollup rebuild), then run
    the alert job over it: loading 20M+ points through write_batch would take most of an hour."""
    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    end = floor_time(datetime.now(UTC), 60) + AHEAD
    start = end - timedelta(days=days)
    n = days * 1440
    ts = int(start.timestamp()) + 60 * np.arange(n)
    rng = np.random.default_rng(0)
    deps = deployments(n_deployments)
    t0 = time.perf_counter()
    insert = "INSERT INTO metric_points (deployment_id, metric, step_s, ts, value) VALUES (?, ?, 60, ?, ?)"
    points = 0
    with store.write() as conn:
        store.upsert_deployments(conn, deps, end)
        for dep in track(deps, description="metric points"):
            for metric, values in minute_values(rng, n).items():
                conn.exec_driver_sql(insert, [(dep.id, metric.value, t, v)
                                              for t, v in zip(ts.tolist(), values.tolist(), strict=True)])
                points += n
    store.rebuild_rollups()
    points_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    histograms = fill_histograms(store, deps, end, rng)
    histograms_s = time.perf_counter() - t1
    store.record_run(CollectionRun("bench-fill", "local", end - AHEAD, end - AHEAD, "ok"))
    store.dispose()
    t2 = time.perf_counter()
    subprocess.run([inferwatch_bin(), "alerts", "run"], env=clean_env(home), cwd=home, check=True,
                   capture_output=True, timeout=600)
    return {"metric_points": points, "histograms": histograms, "points_s": round(points_s, 1),
            "histograms_s": round(histograms_s, 1), "alert_job_s": round(time.perf_counter() - t2, 1)}


def fill_histograms(store: Store, deps: list[Deployment], end: datetime, rng: np.random.Generator) -> int:
    """Per deployment and minute, counts of score, class and every feature over the model's baseline
    bins, from 60 held-out rows resampled (a handful of distinct minutes, reused)."""
    from drift import WindowCounts
    from inferwatch.schema import ModelKey
    from shell.reference_baselines import ensure_model_baselines, heldout_signals, model_baseline

    keys = {d.model_version: ModelKey("bench", d.model_version) for d in deps}
    ids = {k.model_version: bid for k, bid in ensure_model_baselines(store, keys.values()).items()}
    samples: dict[str, list[dict[str, str]]] = {}
    for version in ids:
        signals, _ = heldout_signals(version)
        baseline = model_baseline(version)
        minutes = []
        for _ in range(8):
            rows = rng.integers(0, len(signals["score"]), 60)
            minutes.append({s: json.dumps(WindowCounts.from_values(baseline.column(s), v[rows]).to_dict())
                            for s, v in signals.items()})
        samples[version] = minutes
    first = int((end - AHEAD - timedelta(hours=HISTOGRAM_HOURS)).timestamp())
    rows = [(d.id, signal, t, ids[d.model_version], counts)
            for d in deps for k, t in enumerate(range(first, int(end.timestamp()), 60))
            for signal, counts in samples[d.model_version][k % 8].items()]
    with store.write() as conn:
        conn.exec_driver_sql("INSERT INTO histograms (deployment_id, signal, step_s, ts, baseline_id, counts) "
                             "VALUES (?, ?, 60, ?, ?, ?)", rows)
    return len(rows)


# Rendered: Streamlit's script is idle, the URL holds the picked range (the script writes it, so this
# proves the click's run happened: a quick run can go from running to idle between two looks at the
# page), and the page shows its answer: the empty state's info box, or the status table's sparklines
# with the caption that names the picked range (written after the table in the same run). Then two
# animation frames, so the page has been painted.
RENDERED = """([charts, label, defaultLabel]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if ((new URLSearchParams(location.search).get('range') || defaultLabel) !== label) return false;
  if (!charts) return !!document.querySelector('[data-testid="stAlertContentInfo"]');
  if (!document.querySelector('table.iw-status .iw-spark')) return false;
  return Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
    .some((c) => c.textContent.includes('(' + label + ','));
}"""
PAINTED = "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def wait_rendered(page: Any, charts: bool, range_label: str) -> None:
    page.wait_for_function(RENDERED, arg=[charts, range_label, DEFAULT_RANGE], timeout=120_000)
    page.evaluate(PAINTED)


def next_cache_bucket(bucket_s: int = 15) -> None:
    """Sleep into the next bucket of the dashboard's data cache (keyed by time), plus a margin: every
    measured load then computes its data afresh instead of reading what the previous load cached."""
    time.sleep(bucket_s - time.time() % bucket_s + 0.5)


def measure(context: Any, url: str, runs: int, *, charts: bool) -> dict[str, Any]:
    """Medians over ``runs`` loads, each a new tab (a new Streamlit session) in one browser context,
    after a warm-up load: the browser's HTTP cache holds Streamlit's static files, as for anyone who
    has opened the dashboard before, and the server has imported everything."""
    first, switch = [], []
    for k in range(runs + 1):
        next_cache_bucket()
        page = context.new_page()
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit")
        wait_rendered(page, charts, DEFAULT_RANGE)
        t1 = time.perf_counter()
        page.get_by_text("30d", exact=True).first.click()
        wait_rendered(page, charts, "30d")
        t2 = time.perf_counter()
        page.close()
        if k:
            first.append(t1 - t0)
            switch.append(t2 - t1)
    return {"first_render_s": round(statistics.median(first), 3), "switch_to_30d_s": round(statistics.median(switch),
                                                                                           3),
            "first_render_runs_s": [round(x, 3) for x in first], "switch_runs_s": [round(x, 3) for x in switch]}


def collection_round(home: Path) -> dict[str, float]:
    """What a collection round does after writing (shell.collect): decide drift for every
    deployment and keep the Overview's window numbers. The measured loads follow it as they would
    follow the running collector's latest round (its numbers count as current for
    readmodels.sources.stale_after_s). Returns the durations: the per-round cost of keeping them."""
    from readmodels.drift_status import record_drift
    from readmodels.overview import record_window_numbers
    from shell.runtime import Runtime

    store = Store.open(f"sqlite:///{home / 'inferwatch.db'}")
    t0 = time.perf_counter()
    decided = record_drift(store, datetime.now(UTC))
    t1 = time.perf_counter()
    record_window_numbers(store, Runtime.from_env({"INFERWATCH_HOME": str(home)}).settings, datetime.now(UTC))
    t2 = time.perf_counter()
    store.dispose()
    print(f"{len(decided.decided)} deployments: drift decided in {t1 - t0:.1f} s, "
          f"window numbers kept in {t2 - t1:.2f} s")
    return {"drift_decision_s": round(t1 - t0, 2), "window_numbers_s": round(t2 - t1, 2)}


def full_store(keep: Path | None, scratch: Path, n_deployments: int, days: int) -> tuple[Path, dict[str, object]]:
    """A filled home: ``keep`` reuses one filled earlier with the same shape while its data still
    covers the next 20 minutes, time for a measurement (filling takes minutes; measuring should not)."""
    home = keep or scratch
    manifest = home / "fill.json"
    if keep is not None and manifest.exists():
        info = json.loads(manifest.read_text())
        fresh = info["filled_until"] - time.time() > 1200
        if fresh and (info["deployments"], info["days"]) == (n_deployments, days):
            print(f"reusing the store filled at {info['filled_at']} in {home}")
            return home, info
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    info = {"deployments": n_deployments, "days": days, **fill(home, n_deployments, days),
            "filled_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "filled_until": int(time.time() + AHEAD.total_seconds())}
    manifest.write_text(json.dumps(info, indent=2))
    return home, info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5, help="measured page loads per store (median reported)")
    parser.add_argument("--keep", type=Path, help="fill the full store in this folder and reuse it next time")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as empty_dir, tempfile.TemporaryDirectory() as minimal_dir, \
            tempfile.TemporaryDirectory() as scratch:
        empty, minimal = Path(empty_dir), Path(minimal_dir)
        Store.open(f"sqlite:///{empty / 'inferwatch.db'}").dispose()
        fill(minimal, 1, 1)
        full, info = full_store(args.keep, Path(scratch), args.deployments, args.days)
        print(f"full store: {info['metric_points']:,} metric points, {info['histograms']:,} histograms")
        results: dict[str, Any] = {"store": info, "runs": args.runs}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
            for name, home, charts in (("empty", empty, False), ("minimal", minimal, True), ("full", full, True)):
                if charts:
                    results[f"{name}_round"] = collection_round(home)
                round_at = time.time()
                proc, url = serve(home)
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                try:
                    results[name] = measure(context, url, args.runs, charts=charts)
                    print(name, results[name])
                    if charts and time.time() - round_at > stale_after_s(Settings()):
                        raise SystemExit(f"{name}: measuring outlasted the kept numbers; fewer --runs")
                finally:
                    context.close()
                    stop(proc)
            browser.close()
    e, m, f = results["empty"], results["minimal"], results["full"]
    for key in ("first_render_s", "switch_to_30d_s"):
        ratio = f[key] / e[key]
        results[f"{key}_ratio_to_empty"] = round(ratio, 3)
        results[f"{key}_ratio_to_minimal"] = round(f[key] / m[key], 3)
        results[f"{key}_goal_met"] = ratio <= 1.5 and f[key] <= 2.0
    results["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    out = ROOT / "bench" / "results" / "dashboard_overview.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "store"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
