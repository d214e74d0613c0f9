"""The bins file a probe counts its window lines over (``inferwatch.bins/1``, docs/telemetry.md), exported
from a baseline, and read back by a collector to turn a window line's counts into :class:`WindowCounts`.

Per numeric signal the file holds a subset of the baseline column's edges (at most ``max_edges``, always
the range ends and the coarse PSI edges: :func:`drift.cloud.bin_edges_for_cloud`), so a probe's counts
over them are the baseline's bins coarsened, exactly: they merge with any other window of that baseline.
Per categorical signal it holds the baseline's categories, in the baseline's order (integers when every
category is an integer's canonical text, since probes count integer class labels against integers).

The probe reads only ``signals`` (each ``{"edges": [...]}`` or ``{"categories": [...]}``) and ignores other
members; the reader here also needs ``baseline_id`` and ``layouts`` (each numeric signal's edge indices
into its baseline column). A window line names its bins file by the sha256 of the file's bytes, so the
exact bytes are what the store keeps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drift.baseline import Baseline, CategoricalColumn, NumericColumn
from drift.cloud import bin_edges_for_cloud
from drift.errors import InvalidInputError

FORMAT = "inferwatch.bins/1"
# 64 bins per numeric signal: a window line of 30 features stays a few KB, and the baseline's coarse
# edges (PSI, JS, Hellinger, TVD) and range ends are always among them, so those checks are exact.
DEFAULT_PROBE_EDGES = 63


@dataclass(frozen=True, slots=True)
class ProbeBins:
    """A bins file as a collector reads it: which baseline, and each numeric signal's layout."""

    sha256: str
    baseline_id: str
    layouts: Mapping[str, NDArray[np.int64]]  # numeric signal -> edge indices into the baseline column
    categorical: frozenset[str]  # categorical signals (counted over the baseline's categories, then other)


def _categories(column: CategoricalColumn) -> list[str] | list[int]:
    as_ints = [int(c) for c in column.categories if c.lstrip("-").isdigit() and str(int(c)) == c]
    return as_ints if len(as_ints) == len(column.categories) else list(column.categories)


def probe_bins_file(baseline_id: str, baseline: Baseline, *, max_edges: int = DEFAULT_PROBE_EDGES) -> bytes:
    """The bytes of the bins file for ``baseline``: every signal, at most ``max_edges`` edges each.

    Parameters
    ----------
    baseline_id
        The id the baseline is stored under (window lines counted over this file are its windows).
    baseline
        The baseline.
    max_edges
        Edges per numeric signal (the probe's bins are one more).

    Returns
    -------
    bytes
        Canonical JSON (sorted keys): the same baseline always gives the same bytes, and the same sha256.
    """
    signals: dict[str, Any] = {}
    layouts: dict[str, list[int]] = {}
    for name, column in sorted(baseline.columns.items()):
        if isinstance(column, NumericColumn):
            bins = bin_edges_for_cloud(column, max_edges=max_edges)
            signals[name] = {"edges": [float(e) for e in bins.edges]}
            layouts[name] = [int(i) for i in bins.layout]
        else:
            signals[name] = {"categories": _categories(column)}
    doc = {"schema": FORMAT, "baseline_id": baseline_id, "model_version": baseline.version,
           "model_sha256": baseline.model_sha256, "signals": signals, "layouts": layouts}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def read_probe_bins(content: bytes, baseline: Baseline) -> ProbeBins:
    """The collector's view of a bins file exported by :func:`probe_bins_file` for ``baseline``.

    Raises
    ------
    InvalidInputError
        The bytes are not such a file, or do not fit ``baseline`` (an edge or a category differs).
    """
    try:
        doc = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError("bins", f"not JSON: {exc}") from exc
    if not isinstance(doc, Mapping) or doc.get("schema") != FORMAT or not isinstance(doc.get("signals"), Mapping):
        raise InvalidInputError("bins", f"not an {FORMAT} file")
    layouts: dict[str, NDArray[np.int64]] = {}
    categorical: set[str] = set()
    for name, spec in doc["signals"].items():
        column = baseline.columns.get(name)
        if column is None:
            raise InvalidInputError(f"bins.{name}", f"not a signal of baseline {doc.get('baseline_id')}")
        if isinstance(column, NumericColumn):
            layout = np.asarray(doc.get("layouts", {}).get(name, []), dtype=np.int64)
            if layout.size != len(spec.get("edges", [])) or not np.array_equal(column.edges[layout],
                                                                              np.asarray(spec["edges"])):
                raise InvalidInputError(f"bins.{name}", "edges are not the baseline's edges at its layout")
            layouts[name] = layout
        else:
            if [str(c) for c in spec.get("categories", [])] != list(column.categories):
                raise InvalidInputError(f"bins.{name}", "categories are not the baseline's")
            categorical.add(name)
    return ProbeBins(hashlib.sha256(content).hexdigest(), str(doc.get("baseline_id", "")), layouts,
                     frozenset(categorical))
