"""Exact two-sample KS on 5M + 5M raw float32 values: the one-sort packed-key kernel
(``drift.exact.ks_exact``) against scipy ``ks_2samp`` in the same run, same arrays; also exact
Cramér-von Mises and Wasserstein (vs scipy ``wasserstein_distance``). Statistics must agree.
Target (issue #5): KS <= 0.5 s. Run: ``.venv/bin/python bench/drift_exact.py``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drift.exact import cramer_von_mises_exact, ks_exact, wasserstein_sigma_exact

ROWS = 5_000_000
REPEATS = 3


def _best(fn: Callable[[], Any]) -> tuple[float, Any]:
    out, times = None, []
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> dict[str, Any]:
    import scipy.stats

    rng = np.random.default_rng(2)
    ref = rng.standard_normal(ROWS).astype(np.float32)
    cur = (rng.standard_normal(ROWS) + 0.01).astype(np.float32)
    ks_exact(ref[:100], cur[:100])  # warm: scipy's kstwo is imported lazily
    ours_s, ours = _best(lambda: ks_exact(ref, cur))
    scipy_s, theirs = _best(lambda: scipy.stats.ks_2samp(ref, cur, method="asymp"))
    w_s, w = _best(lambda: wasserstein_sigma_exact(ref, cur))
    sw_s, sw = _best(lambda: scipy.stats.wasserstein_distance(ref, cur) / float(np.std(ref.astype(np.float64))))
    cvm_s, cvm = _best(lambda: cramer_von_mises_exact(ref, cur))
    summary = {
        "benchmark": "drift_exact", "rows_per_side": ROWS, "dtype": "float32",
        "ks": {"inferwatch_s": ours_s, "scipy_ks_2samp_s": scipy_s, "speedup": scipy_s / ours_s,
               "statistic": ours.statistic, "scipy_statistic": float(theirs.statistic),
               "p_value": ours.p_value, "scipy_p_value": float(theirs.pvalue)},
        "wasserstein_sigma": {"inferwatch_s": w_s, "scipy_s": sw_s, "speedup": sw_s / w_s,
                              "statistic": w.statistic, "scipy_statistic": float(sw)},
        "cramer_von_mises": {"inferwatch_s": cvm_s, "statistic": cvm.statistic, "p_value": cvm.p_value},
        "target_ks_s": 0.5, "meets_target": ours_s <= 0.5,
        "agree": abs(ours.statistic - float(theirs.statistic)) < 1e-12 and abs(w.statistic - float(sw)) < 1e-9,
        "load_average_1m": os.getloadavg()[0], "python": platform.python_version(), "numpy": np.__version__,
    }
    (ROOT / "bench" / "results" / "drift_exact.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
