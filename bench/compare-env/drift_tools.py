"""NannyML 0.13 and Evidently 0.7 with their defaults on the data bench/drift_calibration.py wrote.

Runs inside .venv-compare (``make bench-compare-env``), never in the product's environment. Input: an
.npz with ``ref:<column>`` arrays and ``cur:<rows>:<column>`` arrays (chunks of ``rows`` rows one after
the other) and a JSON meta file; output: per tool, rows per window, the alert of every chunk-column and
the seconds each size took.
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


def _frame(data: Any, prefix: str, columns: list[str]) -> pd.DataFrame:
    out = {}
    for c in columns:
        values = data[f"{prefix}{c}"]
        out[c] = values.astype(object) if values.dtype.kind == "U" else values
    return pd.DataFrame(out)


def nannyml_alerts(ref: pd.DataFrame, cur: pd.DataFrame, rows: int, categorical: list[str]) -> dict[str, list[bool]]:
    import nannyml as nml

    calc = nml.UnivariateDriftCalculator(column_names=list(ref.columns), treat_as_categorical=categorical,
                                         chunk_size=rows)
    calc.fit(ref)
    frame = calc.calculate(cur).filter(period="analysis").to_df()
    out = {}
    for c in ref.columns:
        alert_cols = [k for k in frame.columns if k[0] == c and k[2] == "alert"]
        out[c] = [bool(v) for v in frame[alert_cols[0]].fillna(False)]
    return out


def evidently_alerts(ref: pd.DataFrame, cur: pd.DataFrame, rows: int, categorical: list[str]) -> dict[str, list[bool]]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    numeric = [c for c in ref.columns if c not in categorical]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    reference = Dataset.from_pandas(ref, data_definition=definition)
    out: dict[str, list[bool]] = {c: [] for c in ref.columns}
    for start in range(0, len(cur), rows):
        chunk = Dataset.from_pandas(cur.iloc[start:start + rows].reset_index(drop=True), data_definition=definition)
        for c in ref.columns:
            try:
                snap = Report([ValueDrift(column=c)]).run(chunk, reference)
                metric = snap.dict()["metrics"][0]
                method, threshold, value = metric["config"]["method"], metric["config"]["threshold"], metric["value"]
                drift = value < threshold if "p_value" in method else value >= threshold
            except Exception as exc:  # noqa: BLE001 - a third-party failure on one column (e.g. a constant) is recorded, not fatal
                print(f"evidently {c}: {type(exc).__name__}: {exc}", file=sys.stderr)
                drift = False
            out[c].append(bool(drift))
    return out


def main(npz: Path, meta_path: Path, out_path: Path) -> None:
    warnings.filterwarnings("ignore")
    meta = json.loads(meta_path.read_text())
    data = np.load(npz, allow_pickle=False)
    columns, categorical = meta["columns"], meta["categorical"]
    ref = _frame(data, "ref:", columns)
    result: dict[str, Any] = {"nannyml": {}, "evidently": {}}
    for rows in meta["sizes"]:
        cur = _frame(data, f"cur:{rows}:", columns)
        for tool, fn in (("nannyml", nannyml_alerts), ("evidently", evidently_alerts)):
            start = time.perf_counter()
            alerts = fn(ref, cur, rows, categorical)
            result[tool][str(rows)] = {"alerts": alerts, "seconds": time.perf_counter() - start}
            print(f"{tool} {rows}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    import evidently
    import nannyml
    result["versions"] = {"nannyml": nannyml.__version__, "evidently": evidently.__version__, "pandas": pd.__version__}
    out_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
