"""Recall, false alarms and time: Inferwatch vs NannyML 0.13 and Evidently 0.7 defaults, same data.

Data (generated here, tests/drift/shapes.py): ten feature shapes (normal, lognormal, Poisson, zero-
inflated, rounded to integers and to one decimal, 60 classes, boolean, a 5-channel mix, a constant),
a 50k-row reference each, and per window size (1k, 10k, 100k, 1M rows) a run of chunks: ``clean``
chunks without drift, then ``drifted`` chunks with drift of known size (the shape's ``moderate`` drift,
just under the old 0.1 thresholds; at 1k rows its ``small_window`` drift, the smallest one a 1k window
can tell from noise). A chunk-column is flagged when the tool alerts on that column in that chunk:
Inferwatch ``drift`` status on any check of the signal (default policy, chunks compared in order so
persistence applies), NannyML's ``UnivariateDriftCalculator`` alert (defaults: JS, mean +- 3 sigma of
reference chunks), Evidently's ``ValueDrift`` verdict (defaults: auto method and threshold). Columns
are declared categorical to all three alike.

NannyML and Evidently run in their own environment (.venv-compare, ``make bench-compare-env``),
through bench/compare-env/drift_tools.py; data goes over an .npz in a temporary directory.
Run: ``.venv/bin/python bench/drift_calibration.py`` (writes bench/results/drift_calibration.json).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drift import Status, WindowCounts, build_baseline, compare
from tests.drift.shapes import SHAPES

RESULTS = ROOT / "bench" / "results" / "drift_calibration.json"
COMPARE_PYTHON = ROOT / ".venv-compare" / "bin" / "python"
# no usage logging or telemetry from the comparison tools (also set inside their scripts)
NO_TELEMETRY = {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1", "ITERATIVE_DO_NOT_TRACK": "1",
                "EVIDENTLY_DISABLE_TELEMETRY": "1"}
REFERENCE_ROWS = 50_000
# rows per window -> (clean chunks, drifted chunks)
PLAN = {1_000: (8, 4), 10_000: (8, 4), 100_000: (4, 4), 1_000_000: (2, 2)}


def _data(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[int, dict[str, np.ndarray]]]:
    reference = {s.name: s.sample(rng, REFERENCE_ROWS, 0.0) for s in SHAPES}
    current: dict[int, dict[str, np.ndarray]] = {}
    for rows, (clean, drifted) in PLAN.items():
        current[rows] = {}
        for s in SHAPES:
            size = s.small_window if rows < 10_000 else s.moderate
            chunks = [s.sample(rng, rows, 0.0) for _ in range(clean)] + [s.sample(rng, rows, size)
                                                                            for _ in range(drifted)]
            current[rows][s.name] = np.concatenate(chunks)
    return reference, current


def _inferwatch(reference: dict[str, np.ndarray], current: dict[str, np.ndarray], rows: int
                ) -> tuple[dict[str, list[bool]], float]:
    categorical = [s.name for s in SHAPES if s.categorical]
    start = time.perf_counter()
    baseline = build_baseline(reference, categorical=categorical, model_sha256="0" * 64, version="bench")
    chunks = len(next(iter(current.values()))) // rows
    windows = [{name: WindowCounts.from_values(baseline.column(name), values[i * rows:(i + 1) * rows])
                for name, values in current.items()} for i in range(chunks)]
    report = compare(baseline, windows)
    seconds = time.perf_counter() - start
    alerts = {name: [any(r.status is Status.DRIFT for r in row if r.signal == name) for row in report.history]
              for name in current}
    return alerts, seconds


def _storable(values: np.ndarray) -> np.ndarray:
    return values.astype(str) if values.dtype == object else values


def _others(reference: dict[str, np.ndarray], current: dict[int, dict[str, np.ndarray]]) -> dict[str, Any]:
    if not COMPARE_PYTHON.exists():
        raise SystemExit("the comparison environment is missing: run `make bench-compare-env` first")
    with tempfile.TemporaryDirectory() as tmp:
        arrays = {f"ref:{k}": _storable(v) for k, v in reference.items()}
        for rows, cols in current.items():
            arrays.update({f"cur:{rows}:{k}": _storable(v) for k, v in cols.items()})
        np.savez(Path(tmp) / "data.npz", **arrays)
        meta = {"columns": [s.name for s in SHAPES], "categorical": [s.name for s in SHAPES if s.categorical],
                "sizes": list(current)}
        (Path(tmp) / "meta.json").write_text(json.dumps(meta))
        subprocess.run([str(COMPARE_PYTHON), str(ROOT / "bench" / "compare-env" / "drift_tools.py"),
                        str(Path(tmp) / "data.npz"), str(Path(tmp) / "meta.json"), str(Path(tmp) / "out.json")],
                       check=True, timeout=3600, env={**os.environ, **NO_TELEMETRY})
        result: dict[str, Any] = json.loads((Path(tmp) / "out.json").read_text())
        return result


def _score(alerts: dict[str, list[bool]], clean: int) -> dict[str, int]:
    false_alarms = sum(sum(flags[:clean]) for flags in alerts.values())
    hits = sum(sum(flags[clean:]) for flags in alerts.values())
    drifted = sum(len(flags) - clean for flags in alerts.values())
    first = sum(flags[clean] for flags in alerts.values() if len(flags) > clean)
    return {"false_alarms": false_alarms, "clean_chunk_columns": clean * len(alerts), "flagged": hits,
            "drifted_chunk_columns": drifted, "first_drifted_chunk_flagged": first}


def main() -> dict[str, Any]:
    reference, current = _data(np.random.default_rng(18))
    ours = {rows: _inferwatch(reference, cols, rows) for rows, cols in current.items()}
    others = _others(reference, current)
    by_size: dict[str, Any] = {}
    totals: dict[str, dict[str, float]] = {}
    for rows, (clean, _) in PLAN.items():
        entry: dict[str, Any] = {}
        runs = {"inferwatch": (ours[rows][0], ours[rows][1])}
        for tool in ("nannyml", "evidently"):
            runs[tool] = (others[tool][str(rows)]["alerts"], others[tool][str(rows)]["seconds"])
        for tool, (alerts, seconds) in runs.items():
            score = _score(alerts, clean)
            entry[tool] = {**score, "seconds": seconds, "per_column": {k: [int(v) for v in flags]
                                                                        for k, flags in alerts.items()}}
            total = totals.setdefault(tool, {})
            for key, value in {**score, "seconds": seconds}.items():
                total[key] = total.get(key, 0) + value
        for tool in ("nannyml", "evidently"):
            entry[f"{tool}_time_over_inferwatch"] = entry[tool]["seconds"] / entry["inferwatch"]["seconds"]
        by_size[str(rows)] = entry
    result = {
        "benchmark": "drift_calibration", "reference_rows": REFERENCE_ROWS,
        "plan": {str(k): {"clean_chunks": v[0], "drifted_chunks": v[1]} for k, v in PLAN.items()},
        "shapes": {s.name: {"categorical": s.categorical, "moderate": s.moderate, "small_window": s.small_window}
                   for s in SHAPES},
        "by_rows_per_window": by_size, "totals": totals,
        "versions": {**others.get("versions", {}), "numpy": np.__version__, "python": platform.python_version()},
        "machine": {"cpus": os.cpu_count(), "load_1m": os.getloadavg()[0]},
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    out = main()
    print(json.dumps({"totals": out["totals"],
                      "by_rows": {k: {t: {m: v[t][m] for m in ("false_alarms", "flagged", "seconds")}
                                      for t in ("inferwatch", "nannyml", "evidently")}
                                  for k, v in out["by_rows_per_window"].items()}}, indent=2))
