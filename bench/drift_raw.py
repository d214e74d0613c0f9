"""Drift check from raw arrays: one numeric (float32) and one 10-class column, 5M reference rows vs
5M current rows, the baseline built beforehand (as it is at deploy time).

Baselines measured in the same run, on the same arrays (drift-anchors.md section 3 setup: a 0.1 sigma
shift on the numeric column, 2 pp of class mass moved from class 0 to class 9):
- numpy PSI with 10 reference-quantile bins on both columns (``np.quantile`` + ``searchsorted``),
- scipy ``ks_2samp`` on the numeric column,
- scipy chi-square on ``bincount`` of the classes.
Extra memory is the tracemalloc peak of the call (numpy reports its buffers to tracemalloc).

Targets (issue #5): <= 0.1 s and <= 100 MB extra. Run: ``.venv/bin/python bench/drift_raw.py``.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drift import build_baseline, compare_values

ROWS = 5_000_000
REPEATS = 5


def _measure(fn: Callable[[], object]) -> dict[str, float]:
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"best_s": min(times), "median_s": statistics.median(times), "peak_extra_mb": peak / 2**20}


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ref_x = rng.standard_normal(ROWS).astype(np.float32)
    cur_x = (rng.standard_normal(ROWS) + 0.1).astype(np.float32)
    probs = np.full(10, 0.1)
    ref_c = rng.choice(10, ROWS, p=probs)
    probs_cur = probs.copy()
    probs_cur[0] -= 0.02
    probs_cur[9] += 0.02
    cur_c = rng.choice(10, ROWS, p=probs_cur)
    return ref_x, cur_x, ref_c, cur_c


def main() -> dict[str, Any]:
    ref_x, cur_x, ref_c, cur_c = _data()
    start = time.perf_counter()
    base = build_baseline({"score": ref_x, "class": ref_c}, categorical=["class"], model_sha256="0" * 64,
                          version="bench")
    build_s = time.perf_counter() - start

    def inferwatch() -> object:
        return compare_values(base, {"score": cur_x, "class": cur_c})

    def numpy_psi() -> object:
        edges = np.quantile(ref_x, np.linspace(0, 1, 11)[1:-1])
        p = np.bincount(np.searchsorted(edges, ref_x), minlength=10) / ROWS
        q = np.bincount(np.searchsorted(edges, cur_x), minlength=10) / ROWS
        pc, qc = np.bincount(ref_c, minlength=10) / ROWS, np.bincount(cur_c, minlength=10) / ROWS
        return float(np.sum((q - p) * np.log(q / p)) + np.sum((qc - pc) * np.log(qc / pc)))

    def scipy_ks() -> object:
        from scipy.stats import ks_2samp

        return ks_2samp(ref_x, cur_x)

    def scipy_chi2() -> object:
        from scipy.stats import chi2_contingency

        return chi2_contingency(np.vstack((np.bincount(ref_c, minlength=10), np.bincount(cur_c, minlength=10))))

    results = {name: _measure(fn) for name, fn in
               (("inferwatch_compare_values", inferwatch), ("numpy_psi_quantile_bins", numpy_psi),
                ("scipy_ks_2samp", scipy_ks), ("scipy_chi2_bincount", scipy_chi2))}
    ours = results["inferwatch_compare_values"]
    report = inferwatch()
    summary = {
        "benchmark": "drift_raw", "rows_per_side": ROWS, "columns": ["numeric float32", "10-class int64"],
        "baseline_build_s": build_s, "results": results,
        "speedup_vs": {k: v["best_s"] / ours["best_s"] for k, v in results.items() if k != "inferwatch_compare_values"},
        "targets": {"time_s": 0.1, "extra_mb": 100.0},
        "meets_targets": ours["best_s"] <= 0.1 and ours["peak_extra_mb"] <= 100.0,
        "verdict_on_0_1_sigma_shift": {f"{r.signal}/{r.check}": r.status.value for r in report.results},
        "load_average_1m": os.getloadavg()[0],  # the 2-core box is shared: absolute times vary, ratios less
        "python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
    }
    out = ROOT / "bench" / "results" / "drift_raw.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
