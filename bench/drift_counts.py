"""Drift check from merged window counts: per column, and 1,000 columns in one evaluation.

Each numeric column has the full ~1,000-edge baseline; its window is the merge of 60 per-minute
windows of 2,000 rows (as the store keeps them). Timed: ``compare`` over one window (all checks:
six statistics, p-values, noise floors, BH, persistence). Baselines in the same run, on the same
counts: numpy PSI over 10 bins alone (the cheapest useful statistic) and scipy ``chi2_contingency``
per column. Targets (issue #5): <= 1 ms per column and 1,000 columns <= 1 s.
Run: ``.venv/bin/python bench/drift_counts.py``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drift import Baseline, NumericColumn, WindowCounts, build_baseline, compare, merge_all

COLUMNS = 1000
REPEATS = 5


def _best(fn: Callable[[], object], repeats: int = REPEATS) -> dict[str, float]:
    fn()  # warm (scipy's lazy import happens here, not in the timing)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"best_s": min(times), "median_s": statistics.median(times)}


def main() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    seed = build_baseline({"f": rng.normal(size=200_000)}, categorical=[], model_sha256="0" * 64, version="bench")
    template = seed.column("f")
    assert isinstance(template, NumericColumn)
    columns = {f"feature:{i}": dataclasses.replace(template, name=f"feature:{i}") for i in range(COLUMNS)}
    base = Baseline("0" * 64, "bench", columns)
    minutes = [WindowCounts.from_values(template, rng.normal(0.05, 1, 2000)) for _ in range(60)]
    merged = merge_all(minutes)
    window = {name: merged for name in columns}
    one = Baseline("0" * 64, "bench", {"feature:0": columns["feature:0"]})

    ref10 = np.add.reduceat(template.counts, np.concatenate(([0], template.coarse_index + 1)))
    cur10 = merged.coarsened(template.coarse_index)

    def numpy_psi_all() -> object:
        out = 0.0
        for _ in range(COLUMNS):
            p, q = (ref10 + 0.5) / ref10.sum(), (cur10 + 0.5) / cur10.sum()
            out += float(np.sum((q - p) * np.log(q / p)))
        return out

    def scipy_chi2_all() -> object:
        from scipy.stats import chi2_contingency

        return [chi2_contingency(np.vstack((ref10, cur10))) for _ in range(COLUMNS)]

    results = {
        "inferwatch_1_column": _best(lambda: compare(one, [{"feature:0": merged}]), repeats=50),
        "inferwatch_1000_columns": _best(lambda: compare(base, [window])),
        "numpy_psi_1000_columns": _best(numpy_psi_all),
        "scipy_chi2_contingency_1000_columns": _best(scipy_chi2_all),
        "merge_60_windows": _best(lambda: merge_all(minutes), repeats=20),
    }
    ours = results["inferwatch_1000_columns"]["best_s"]
    summary = {
        "benchmark": "drift_counts", "columns": COLUMNS, "edges_per_column": int(template.edges.size),
        "rows_in_window": merged.total_count, "results": results,
        "per_column_ms": 1000 * results["inferwatch_1_column"]["best_s"],
        "columns_1000_s": ours,
        "ratio_vs": {"numpy_psi_only": ours / results["numpy_psi_1000_columns"]["best_s"],
                     "scipy_chi2_contingency": ours / results["scipy_chi2_contingency_1000_columns"]["best_s"]},
        "targets": {"per_column_ms": 1.0, "columns_1000_s": 1.0},
        "meets_targets": results["inferwatch_1_column"]["best_s"] <= 0.001 and ours <= 1.0,
        "load_average_1m": os.getloadavg()[0],
        "python": platform.python_version(), "numpy": np.__version__,
    }
    (ROOT / "bench" / "results" / "drift_counts.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
