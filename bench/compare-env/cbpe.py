"""NannyML 0.13 CBPE on the data bench/quality_estimate.py wrote; runs inside .venv-compare only.

Input: an .npz with, per case, ``<case>:ref_proba`` (reference rows x classes), ``<case>:ref_pred``,
``<case>:ref_y``, ``<case>:cur_proba``, ``<case>:cur_pred`` and a JSON meta file (cases, chunk rows,
metrics); output: per case, CBPE's estimate of each metric per analysis chunk and the seconds it took.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# The tools phone home by default (NannyML: segment.io usage logging; Evidently: telemetry); this
# machine reaches no such host, and a benchmark has no business sending anything anywhere.
for _var in ("NML_DISABLE_USAGE_LOGGING", "DO_NOT_TRACK", "ITERATIVE_DO_NOT_TRACK", "EVIDENTLY_DISABLE_TELEMETRY"):
    os.environ[_var] = "1"


def _frame(proba: np.ndarray, pred: np.ndarray, y: np.ndarray | None) -> tuple[pd.DataFrame, Any]:
    if proba.shape[1] == 2:
        frame = pd.DataFrame({"proba": proba[:, 1], "pred": pred})
        columns: Any = "proba"
    else:
        frame = pd.DataFrame({f"proba_{k}": proba[:, k] for k in range(proba.shape[1])})
        frame["pred"] = pred
        columns = {k: f"proba_{k}" for k in range(proba.shape[1])}
    if y is not None:
        frame["y"] = y
    return frame, columns


def run_case(data: Any, case: str, rows: int, metrics: list[str]) -> dict[str, Any]:
    import nannyml as nml

    ref, columns = _frame(data[f"{case}:ref_proba"], data[f"{case}:ref_pred"], data[f"{case}:ref_y"])
    cur, _ = _frame(data[f"{case}:cur_proba"], data[f"{case}:cur_pred"], None)
    binary = data[f"{case}:ref_proba"].shape[1] == 2
    start = time.perf_counter()
    cbpe = nml.CBPE(y_pred_proba=columns, y_pred="pred", y_true="y", metrics=metrics, chunk_size=rows,
                    problem_type="classification_binary" if binary else "classification_multiclass")
    cbpe.fit(ref)
    frame = cbpe.estimate(cur).filter(period="analysis").to_df()
    seconds = time.perf_counter() - start
    out = {m: [float(v) for v in frame[(m, "value")]] for m in metrics}
    return {"estimates": out, "seconds": seconds}


def main(npz: Path, meta_path: Path, out_path: Path) -> None:
    warnings.filterwarnings("ignore")
    meta = json.loads(meta_path.read_text())
    data = np.load(npz)
    result = {case: run_case(data, case, meta["rows"], meta["metrics"][case]) for case in meta["cases"]}
    import nannyml

    result["versions"] = {"nannyml": nannyml.__version__}  # type: ignore[assignment]
    out_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
