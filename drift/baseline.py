"""Baselines: what drift is measured against, built once, kept as counts (no raw data afterwards).

A :class:`Baseline` holds one column per signal. A numeric column keeps ~1,000 reference-quantile
edges with the reference counts between them, 10 coarse (decile) bins for PSI/JS/Hellinger/TVD as
indices into those edges, moments, non-finite counts and the noise constants of :mod:`drift.noise`.
A categorical column keeps the counts of the top classes plus "other". ``to_dict()`` is JSON-able
and stays under 32 KB per column (``MAX_COLUMN_BYTES``; tested).

Each column also carries its :class:`~drift.calibration.Calibration` (optional in the dict form:
baselines written before it load with ``calibration=None`` and fall back to the sampling-noise model).
A reference needs at least ``MIN_REFERENCE_VALUES`` usable values per column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drift import noise
from drift.binning import count_sorted, fit_edges, split_nulls
from drift.calibration import Calibration, categorical_calibration, numeric_calibration
from drift.categories import encode_categories
from drift.errors import BaselineError, InvalidInputError
from drift.serial import (
    float_list,
    read_constants,
    read_count,
    read_finite,
    read_floats,
    read_ints,
    require,
    restore_dtype,
)

FORMAT = 1
FINE_BINS = 1000
COARSE_BINS = 10
MAX_CATEGORIES = 1024
MAX_COLUMN_BYTES = 32 * 1024
# Two values are the least a distribution can be estimated from at all (a one-row baseline used to be
# accepted and answered "ok" forever); comparisons also want DriftPolicy.min_reference_rows.
MIN_REFERENCE_VALUES = 2


def _frozen(arr: NDArray[Any]) -> NDArray[Any]:
    arr.flags.writeable = False
    return arr


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True, eq=False)
class NumericColumn:
    """Reference distribution of one numeric signal over right-closed bins (see drift.binning)."""

    name: str
    edges: NDArray[np.float64]  # interior edges; first = just below min, last = max
    counts: NDArray[np.int64]  # len(edges) + 1 reference counts of finite values
    coarse_index: NDArray[np.int64]  # edge indices of the coarse (decile) bins
    mean: float
    std: float
    min: float
    max: float
    nan_count: int
    posinf_count: int
    neginf_count: int
    null_count: int
    null_constants: Mapping[str, float]
    edges_dtype: str = "float64"
    calibration: Calibration | None = None

    kind = "numeric"

    @property
    def finite_count(self) -> int:
        return int(self.counts.sum())

    @property
    def total_count(self) -> int:
        return self.finite_count + self.nan_count + self.posinf_count + self.neginf_count + self.null_count

    @property
    def full_layout(self) -> NDArray[np.int64]:
        return np.arange(self.edges.size, dtype=np.int64)

    @property
    def digest(self) -> str:
        return _digest(b"numeric", self.edges.tobytes())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "edges_dtype": self.edges_dtype,
            "edges": float_list(self.edges, self.edges_dtype), "counts": self.counts.tolist(),
            "coarse_index": self.coarse_index.tolist(), "mean": self.mean, "std": self.std,
            "min": self.min, "max": self.max, "nan_count": self.nan_count,
            "posinf_count": self.posinf_count, "neginf_count": self.neginf_count,
            "null_count": self.null_count, "null_constants": dict(self.null_constants),
            **_calibration_dict(self.calibration),
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> NumericColumn:
        edges_dtype = str(data.get("edges_dtype", "float64"))
        if edges_dtype not in ("float32", "float64"):
            raise BaselineError(f"{name}.edges_dtype", f"unknown dtype {edges_dtype!r}")
        edges = read_floats(data, "edges", name)
        if edges_dtype == "float32" and np.any(np.abs(edges) > np.finfo(np.float32).max):
            raise BaselineError(f"{name}.edges", "values beyond the float32 range of edges_dtype")
        edges = restore_dtype(edges, edges_dtype)
        counts = read_ints(data, "counts", name)
        coarse = read_ints(data, "coarse_index", name)
        if edges.size == 0 or counts.size != edges.size + 1 or np.any(np.diff(edges) <= 0):
            raise BaselineError(f"{name}.edges", "edges must be present, increase and number one less than counts")
        if not counts.sum() > 0:
            raise BaselineError(f"{name}.counts", "no reference values")
        if coarse.size and (np.any(np.diff(coarse) <= 0) or coarse[0] < 0 or coarse[-1] >= edges.size):
            raise BaselineError(f"{name}.coarse_index", "must be increasing edge indices")
        std = read_finite(data, "std", name)
        if std < 0:
            raise BaselineError(f"{name}.std", f"must be >= 0, got {std}")
        return cls(
            name=name, edges=_frozen(edges), counts=_frozen(counts), coarse_index=_frozen(coarse),
            mean=read_finite(data, "mean", name), std=std,
            min=read_finite(data, "min", name), max=read_finite(data, "max", name),
            nan_count=read_count(data, "nan_count", name), posinf_count=read_count(data, "posinf_count", name),
            neginf_count=read_count(data, "neginf_count", name), null_count=read_count(data, "null_count", name),
            null_constants=read_constants(data, name, noise.NUMERIC_CONSTANTS),
            edges_dtype=edges_dtype, calibration=_read_calibration(name, data),
        )


@dataclass(frozen=True, slots=True, eq=False)
class CategoricalColumn:
    """Reference class counts of one categorical signal: top classes, then "other" (last count)."""

    name: str
    categories: tuple[str, ...]
    counts: NDArray[np.int64]  # len(categories) + 1; the last is "other"
    null_count: int
    null_constants: Mapping[str, float]
    calibration: Calibration | None = None

    kind = "categorical"

    @property
    def total_count(self) -> int:
        return int(self.counts.sum()) + self.null_count

    @property
    def digest(self) -> str:
        return _digest(b"categorical", "\x1f".join(self.categories).encode())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "categories": list(self.categories), "counts": self.counts.tolist(),
                "null_count": self.null_count, "null_constants": dict(self.null_constants),
                **_calibration_dict(self.calibration)}

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> CategoricalColumn:
        categories = require(data, "categories", name, list)
        if not all(isinstance(c, str) for c in categories):
            raise BaselineError(f"{name}.categories", "expected a list of strings")
        counts = read_ints(data, "counts", name)
        if not categories or counts.size != len(categories) + 1 or len(set(categories)) != len(categories):
            raise BaselineError(f"{name}.categories", "need distinct categories and one count each plus other")
        if not counts.sum() > 0:
            raise BaselineError(f"{name}.counts", "no reference values")
        return cls(name=name, categories=tuple(categories), counts=_frozen(counts),
                   null_count=read_count(data, "null_count", name),
                   null_constants=read_constants(data, name, noise.CATEGORICAL_CONSTANTS),
                   calibration=_read_calibration(name, data))


def _calibration_dict(calibration: Calibration | None) -> dict[str, Any]:
    return {} if calibration is None else {"calibration": calibration.to_dict()}


def _read_calibration(name: str, data: Mapping[str, Any]) -> Calibration | None:
    """The optional calibration of a column dict (absent in baselines written before it)."""
    raw = data.get("calibration")
    return None if raw is None else Calibration.from_dict(name, raw)


Column = NumericColumn | CategoricalColumn


@dataclass(frozen=True, slots=True, eq=False)
class Baseline:
    """The reference for one model version: one column per signal, versioned by the model's sha256."""

    model_sha256: str
    version: str
    columns: Mapping[str, Column]
    # the labelled reference aggregate of quality.aggregates.ClassifierLabels, as its dict (drift does
    # not read it; quality.baseline does); None for baselines made without labels
    label_calibration: Mapping[str, Any] | None = None

    def column(self, signal: str) -> Column:
        try:
            return self.columns[signal]
        except KeyError as exc:
            raise InvalidInputError("signal", f"{signal!r} is not in the baseline "
                                    f"(has: {', '.join(sorted(self.columns))})") from exc

    def to_dict(self) -> dict[str, Any]:
        data = {"format": FORMAT, "model_sha256": self.model_sha256, "version": self.version,
                "columns": {name: col.to_dict() for name, col in self.columns.items()}}
        if self.label_calibration is not None:
            data["label_calibration"] = dict(self.label_calibration)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        """Rebuild from :meth:`to_dict` output; raises BaselineError naming the bad field."""
        if not isinstance(data, Mapping):
            raise BaselineError("root", f"expected a mapping, got {type(data).__name__}")
        if type(data.get("format")) is not int or data.get("format") != FORMAT:
            raise BaselineError("format", f"unsupported format {data.get('format')!r} (expected {FORMAT})")
        columns_raw = require(data, "columns", "baseline", dict)
        if not columns_raw:
            raise BaselineError("columns", "no columns")
        columns: dict[str, Column] = {}
        for name, raw in columns_raw.items():
            if not isinstance(raw, Mapping):
                raise BaselineError(f"columns.{name}", "expected a mapping")
            kind = raw.get("kind")
            if kind == "numeric":
                columns[name] = NumericColumn.from_dict(name, raw)
            elif kind == "categorical":
                columns[name] = CategoricalColumn.from_dict(name, raw)
            else:
                raise BaselineError(f"columns.{name}.kind", f"unknown kind {kind!r}")
        labels = data.get("label_calibration")
        if labels is not None and not isinstance(labels, Mapping):
            raise BaselineError("label_calibration", "expected a mapping")
        return cls(model_sha256=str(require(data, "model_sha256", "baseline", str)),
                   version=str(require(data, "version", "baseline", str)), columns=columns,
                   label_calibration=labels)


def _coarse_index(edges: NDArray[np.float64], counts: NDArray[np.int64], coarse_bins: int) -> NDArray[np.int64]:
    """Edge indices whose cumulative reference share is closest to 1/k, 2/k, ... (k = coarse_bins).

    Where several edges share a cumulative share (the sub-bins of a gap in a discrete layout), the
    middle one is taken, so a coarse bin holds the values nearest to its reference values.
    """
    if edges.size == 0:
        return np.empty(0, dtype=np.int64)
    cum = np.cumsum(counts)[:-1] / counts.sum()
    targets = np.arange(1, coarse_bins) / coarse_bins
    first = np.clip(np.searchsorted(cum, targets), 0, edges.size - 1)
    last = np.searchsorted(cum, cum[first], "right") - 1
    return np.unique((first + last) // 2).astype(np.int64)


def build_numeric_column(name: str, values: object, *, fine_bins: int = FINE_BINS,
                         coarse_bins: int = COARSE_BINS) -> NumericColumn:
    """Build the reference of one numeric signal from raw values (in time order: the calibration
    cuts them into contiguous chunks)."""
    arr, null_count = split_nulls(values, name)
    finite_mask = np.isfinite(arr)
    finite = arr[finite_mask]
    if finite.size < MIN_REFERENCE_VALUES:
        raise InvalidInputError(name, f"a numeric baseline needs >= {MIN_REFERENCE_VALUES} finite values, "
                                f"got {finite.size}")
    order = np.argsort(finite)  # the sort, and where each value was (the calibration's chunks)
    ordered = finite[order]
    edges = fit_edges(ordered, fine_bins)
    edges_dtype = "float32" if finite.dtype == np.float32 else "float64"
    counts = count_sorted(ordered, edges)
    coarse = _coarse_index(edges, counts, coarse_bins)
    as64 = ordered.astype(np.float64)
    mean = float(np.mean(as64))
    std = float(np.sqrt(np.mean((as64 - mean) ** 2)))
    nan_count = int(np.count_nonzero(np.isnan(arr)))
    posinf = int(np.count_nonzero(arr == np.inf))
    shapes = noise.numeric_shapes(counts, edges, coarse, std)
    return NumericColumn(
        name=name, edges=_frozen(edges), counts=_frozen(counts), coarse_index=_frozen(coarse),
        mean=mean, std=std, min=float(as64[0]), max=float(as64[-1]),
        nan_count=nan_count - null_count, posinf_count=posinf,
        neginf_count=int(arr.size - finite.size - nan_count - posinf), null_count=null_count,
        null_constants=noise.q99_constants(shapes), edges_dtype=edges_dtype,
        calibration=numeric_calibration(ordered, order, edges, coarse, std, shapes),
    )


def build_categorical_column(name: str, values: object, *, max_categories: int = MAX_CATEGORIES
                             ) -> CategoricalColumn:
    """Build the reference of one categorical signal: the top ``max_categories`` classes + other."""
    encoded = encode_categories(values, name)
    if encoded.codes.size < MIN_REFERENCE_VALUES:
        raise InvalidInputError(name, f"a categorical baseline needs >= {MIN_REFERENCE_VALUES} non-null values, "
                                f"got {encoded.codes.size}")
    cnt = np.bincount(encoded.codes, minlength=len(encoded.keys))
    order = np.lexsort((np.asarray(encoded.keys, dtype=str), -cnt))[:max_categories]
    categories = tuple(encoded.keys[i] for i in order)
    remap = np.full(len(encoded.keys), len(categories), dtype=np.int64)
    remap[order] = np.arange(order.size)
    codes = remap[encoded.codes]
    counts = np.bincount(codes, minlength=len(categories) + 1).astype(np.int64)
    shapes = noise.categorical_shapes(counts)
    return CategoricalColumn(name=name, categories=categories, counts=_frozen(counts),
                             null_count=encoded.null_count, null_constants=noise.q99_constants(shapes),
                             calibration=categorical_calibration(codes, counts.size, shapes))


def build_baseline(
    signals: Mapping[str, object], *, categorical: Collection[str], model_sha256: str, version: str,
    fine_bins: int = FINE_BINS, coarse_bins: int = COARSE_BINS, max_categories: int = MAX_CATEGORIES,
) -> Baseline:
    """Build a baseline from raw reference values per signal.

    Parameters
    ----------
    signals
        Signal name (``score``, ``class``, ``feature:<name>``) to a 1-D array of reference values.
    categorical
        Names of the signals to treat as categorical; the others are numeric.
    model_sha256, version
        The model the baseline belongs to.
    fine_bins, coarse_bins, max_categories
        Fine quantile bins, coarse PSI bins, and top classes kept before "other".

    Returns
    -------
    Baseline

    Raises
    ------
    InvalidInputError
        No signals, an unknown categorical name, a bad array or a signal without usable values.
    """
    if not signals:
        raise InvalidInputError("signals", "no signals given")
    unknown = set(categorical) - set(signals)
    if unknown:
        raise InvalidInputError("categorical", f"not among the signals: {sorted(unknown)}")
    if fine_bins < 2 or not 2 <= coarse_bins <= fine_bins or max_categories < 1:
        raise InvalidInputError("bins", "need fine_bins >= coarse_bins >= 2 and max_categories >= 1")
    columns: dict[str, Column] = {}
    for name, values in signals.items():
        if name in categorical:
            columns[name] = build_categorical_column(name, values, max_categories=max_categories)
        else:
            columns[name] = build_numeric_column(name, values, fine_bins=fine_bins, coarse_bins=coarse_bins)
    return Baseline(model_sha256=model_sha256, version=version, columns=columns)
