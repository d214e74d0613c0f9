"""Chart-ready summaries of counts, so the dashboard draws without computing statistics itself.

Numeric signals: baseline and current densities over at most ``max_bins`` display bins, each a run
of the counts' own bins (so it is exact for any layout), plus the shares below and above the
reference range (drawn apart: they have no width). Categorical signals: shares per class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drift.baseline import CategoricalColumn, Column, NumericColumn
from drift.binning import coarsen
from drift.errors import IncompatibleBinsError
from drift.window import WindowCounts


@dataclass(frozen=True, slots=True)
class Overlay:
    """Two distributions on the same bins. ``left``/``right`` are bin edges (numeric) and ``labels``
    the classes (categorical); shares sum to 1 over bins + below + above (0 everywhere when empty)."""

    kind: str
    labels: tuple[str, ...]
    left: tuple[float, ...]
    right: tuple[float, ...]
    reference_share: tuple[float, ...]
    current_share: tuple[float, ...]
    reference_density: tuple[float, ...]  # share / width (numeric); = share for classes
    current_density: tuple[float, ...]
    below_range: tuple[float, float]  # (reference, current) shares below the reference minimum
    above_range: tuple[float, float]
    n_reference: int
    n_current: int


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros(counts.size)


def _categorical(column: CategoricalColumn, reference: np.ndarray, current: np.ndarray) -> Overlay:
    ref, cur = _shares(reference), _shares(current)
    labels = (*column.categories, "other")
    return Overlay("categorical", labels, (), (), tuple(ref.tolist()), tuple(cur.tolist()), tuple(ref.tolist()),
                   tuple(cur.tolist()), (0.0, 0.0), (0.0, 0.0), int(reference.sum()), int(current.sum()))


def overlay(column: Column, current: WindowCounts, *, reference: WindowCounts | None = None,
            max_bins: int = 40) -> Overlay:
    """Baseline (or ``reference`` window) against ``current`` on shared display bins.

    Raises
    ------
    IncompatibleBinsError
        Counts made over another column's bins.
    """
    for w in (current, reference):
        if w is not None and (w.column_digest != column.digest or w.kind != column.kind):
            raise IncompatibleBinsError(column.name, "counts were made over another baseline's bins")
    if isinstance(column, CategoricalColumn):
        return _categorical(column, column.counts if reference is None else reference.counts, current.counts)
    assert isinstance(column, NumericColumn) and current.layout is not None
    layout = current.layout if reference is None or reference.layout is None else np.intersect1d(
        current.layout, reference.layout)
    ref_counts = coarsen(column.counts, column.full_layout,
                         layout) if reference is None else reference.coarsened(layout)
    cur_counts = current.coarsened(layout)
    inner = layout[(layout > 0) & (layout < column.edges.size - 1)]  # keep the range ends as edges
    picks = inner[np.unique(np.linspace(0, inner.size - 1, min(max_bins - 1, inner.size)).round().astype(int))] \
        if inner.size else inner
    display = np.concatenate(([0], picks, [column.edges.size - 1]))
    display = np.unique(display)
    ref_d, cur_d = coarsen(ref_counts, layout, display), coarsen(cur_counts, layout, display)
    ref_s, cur_s = _shares(ref_d), _shares(cur_d)
    edges = column.edges[display].copy()
    edges[0] = column.min  # the first edge sits just below the minimum
    widths = np.diff(edges)
    safe = np.where(widths > 0, widths, 1.0)
    return Overlay(
        "numeric", (), tuple(edges[:-1].tolist()), tuple(edges[1:].tolist()),
        tuple(ref_s[1:-1].tolist()), tuple(cur_s[1:-1].tolist()),
        tuple((ref_s[1:-1] / safe).tolist()), tuple((cur_s[1:-1] / safe).tolist()),
        (float(ref_s[0]), float(cur_s[0])), (float(ref_s[-1]), float(cur_s[-1])),
        int(ref_d.sum()), int(cur_d.sum()),
    )
