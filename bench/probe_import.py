"""Cold ``import inferwatch_probe`` against ``import numpy`` (its floor) in fresh processes: what the
probe adds to every cold start. Two measures, medians of RUNS fresh processes each, interleaved:
``import inferwatch_probe`` alone minus ``import numpy`` alone (separate processes), and the probe's
import after numpy within one process. Goal (issue 16): <= 50 ms beyond numpy.
Run: ``python bench/probe_import.py``.
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
RUNS = 21
GOAL_MS = 50.0
_TIMED = "import time; t = time.perf_counter(); import {m}; print((time.perf_counter() - t) * 1000)"
_AFTER_NUMPY = ("import time; import numpy; t = time.perf_counter(); import inferwatch_probe; "
                "print((time.perf_counter() - t) * 1000)")


def _cold_ms(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    return float(out.stdout.strip())


def main() -> dict[str, Any]:
    times: dict[str, list[float]] = {"numpy": [], "inferwatch_probe": [], "probe_after_numpy": []}
    for _ in range(RUNS):
        times["numpy"].append(_cold_ms(_TIMED.format(m="numpy")))
        times["inferwatch_probe"].append(_cold_ms(_TIMED.format(m="inferwatch_probe")))
        times["probe_after_numpy"].append(_cold_ms(_AFTER_NUMPY))
    medians = {k: round(statistics.median(v), 2) for k, v in times.items()}
    beyond = round(medians["inferwatch_probe"] - medians["numpy"], 2)
    summary = {
        "benchmark": "probe_import", "runs": RUNS, "median_ms": medians,
        "best_ms": {k: round(min(v), 2) for k, v in times.items()},
        "probe_minus_numpy_ms": beyond, "probe_after_numpy_ms": medians["probe_after_numpy"],
        "goal_ms": GOAL_MS, "goal_met": max(beyond, medians["probe_after_numpy"]) <= GOAL_MS,
        "load_average_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
    }
    (ROOT / "bench" / "results" / "probe_import.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
