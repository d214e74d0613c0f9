"""Cold ``import drift`` in fresh processes, against ``import numpy`` (its floor) and the imports the
anchors need (``scipy.stats``; drift-anchors.md: Evidently 3.2-4.2 s). Median of 7 fresh processes.
Target (issue #5): <= 0.3 s. Run: ``.venv/bin/python bench/drift_import.py``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7


def _cold(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip())


def main() -> dict[str, Any]:
    results: dict[str, dict[str, float]] = {}
    for module in ("numpy", "drift", "scipy.stats"):
        times = [_cold(module) for _ in range(RUNS)]
        results[module] = {"median_s": statistics.median(times), "best_s": min(times)}
    drift_s = results["drift"]["median_s"]
    summary = {
        "benchmark": "drift_import", "runs": RUNS, "results": results,
        "drift_minus_numpy_s": drift_s - results["numpy"]["median_s"],
        "ratio_vs_scipy_stats": drift_s / results["scipy.stats"]["median_s"],
        "target_s": 0.3, "meets_target": drift_s <= 0.3,
        "load_average_1m": os.getloadavg()[0], "python": platform.python_version(),
    }
    (ROOT / "bench" / "results" / "drift_import.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
