"""Traffic drawn from your own reference data (``inferwatch demo --model M --data D``): whole rows of the
table, resampled as they are, so unshifted traffic is the reference distribution itself.

Noise (``noise_sd``) touches only continuous numeric columns (more than ``DISCRETE_MAX`` distinct values):
jittering a column of a few values (a 0/1 flag, diabetes' two-valued ``sex``) would put traffic between
and beyond them, which is drift the data never had. Integer columns stay integers.

The drift switch shifts the chosen features: a numeric one by ``shift_sd`` standard deviations, a string
(categorical) one by giving a share of rows, ``min(1, |shift_sd| / 2)``, its rarest category, so the mix
of categories really changes (rotating categories would leave a balanced mix as it was).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_service.emulator.errors import LoadGenError

DISCRETE_MAX = 20  # distinct values up to which a numeric column is left without noise
TABLE_MALFORMED = ("not_json", "wrong_row_length", "missing_instances", "nan_value", "string_value",
                   "number_for_string")


@dataclass(frozen=True)
class TableShift:
    numeric: dict[int, float]  # column -> added value
    categories: dict[int, tuple[str, float]]  # column -> (category given, share of rows)


@dataclass(frozen=True)
class TableSampler:
    """Rows of a table: ``columns`` in the model's feature order, float64 for numbers, objects (str) for
    strings, all of one length."""

    feature_names: tuple[str, ...]
    columns: tuple[NDArray[Any], ...]
    _std: tuple[float, ...] = field(init=False)
    _continuous: tuple[bool, ...] = field(init=False)
    _integral: tuple[bool, ...] = field(init=False)

    def __post_init__(self) -> None:
        sizes = {len(c) for c in self.columns}
        if len(self.columns) != len(self.feature_names) or len(sizes) != 1 or sizes == {0}:
            raise LoadGenError("data", "the table's columns must match the features and hold at least one row")
        std, continuous, integral = [], [], []
        for c in self.columns:
            numeric = c.dtype != object
            std.append(float(np.std(c)) if numeric else 0.0)
            continuous.append(numeric and np.unique(c).size > DISCRETE_MAX)
            integral.append(numeric and bool(np.all(c == np.round(c))))
        object.__setattr__(self, "_std", tuple(s if s > 0 else 1.0 for s in std))
        object.__setattr__(self, "_continuous", tuple(continuous))
        object.__setattr__(self, "_integral", tuple(integral))

    @property
    def rows(self) -> int:
        return len(self.columns[0])

    def _is_string(self, j: int) -> bool:
        return self.columns[j].dtype == object

    @property
    def malformed_kinds(self) -> tuple[str, ...]:
        kinds = ["not_json", "wrong_row_length", "missing_instances"]
        if any(not self._is_string(j) for j in range(len(self.columns))):
            kinds += ["nan_value", "string_value"]
        if any(self._is_string(j) for j in range(len(self.columns))):
            kinds.append("number_for_string")
        return tuple(kinds)

    def shift_for(self, features: Sequence[str], shift_sd: float) -> TableShift:
        missing = [f for f in features if f not in self.feature_names]
        if missing:
            raise LoadGenError("drift.features", f"unknown features {missing} (known: {', '.join(self.feature_names)})")
        numeric: dict[int, float] = {}
        categories: dict[int, tuple[str, float]] = {}
        for name in features:
            j = self.feature_names.index(name)
            if self._is_string(j):
                values, counts = np.unique(self.columns[j].astype(str), return_counts=True)
                categories[j] = (str(values[int(np.argmin(counts))]), min(1.0, abs(shift_sd) / 2))
            else:
                numeric[j] = shift_sd * self._std[j]
        return TableShift(numeric, categories)

    def sample(self, rng: np.random.Generator, rows: int, noise_sd: float, shift: Any = None) -> NDArray[Any]:
        """``rows`` rows (objects: Python floats and strings, ready for JSON)."""
        picks = rng.integers(0, self.rows, size=rows)
        out = np.empty((rows, len(self.columns)), dtype=object)
        for j, column in enumerate(self.columns):
            values = column[picks]
            if not self._is_string(j):
                values = values.astype(np.float64)
                if noise_sd > 0 and self._continuous[j]:
                    values = values + rng.normal(0.0, noise_sd * self._std[j], size=rows)
                if isinstance(shift, TableShift) and j in shift.numeric:
                    values = values + shift.numeric[j]
                if self._integral[j]:
                    values = np.round(values)
            elif isinstance(shift, TableShift) and j in shift.categories:
                category, share = shift.categories[j]
                values = np.where(rng.random(rows) < share, category, values)
            out[:, j] = values.tolist()
        return out

    def malformed(self, kind: str, row: NDArray[Any], rng: np.random.Generator) -> bytes:
        values = list(row.tolist())
        numeric = [j for j in range(len(values)) if not self._is_string(j)]
        strings = [j for j in range(len(values)) if self._is_string(j)]
        if kind == "not_json":
            return json.dumps({"instances": [values]}).encode()[: -int(rng.integers(2, 10))]
        if kind == "wrong_row_length":
            return json.dumps({"instances": [values[:-1]]}).encode()
        if kind == "missing_instances":
            return json.dumps({"rows": [values]}).encode()
        if kind in ("nan_value", "string_value") and numeric:
            j = numeric[int(rng.integers(0, len(numeric)))]
            values[j] = float("nan") if kind == "nan_value" else "abc"
            return json.dumps({"instances": [values]}).encode()  # NaN is not JSON: the service must say so
        if kind == "number_for_string" and strings:
            values[strings[int(rng.integers(0, len(strings)))]] = 1.5
            return json.dumps({"instances": [values]}).encode()
        raise LoadGenError("malformed kind", f"{kind!r} is not one of {', '.join(self.malformed_kinds)}")
