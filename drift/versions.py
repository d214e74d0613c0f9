"""Version against version (shadow and canary): agreement rate and the distance between the two
versions' prediction distributions, both counted over the same baseline bins.

The first version is the reference (the stable/serving one), the second the candidate. The noise
floors reuse the baseline column's constants (the shape of the null distribution depends on the
bin proportions, which the two versions share to first order when they agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from drift.baseline import CategoricalColumn, Column
from drift.binning import common_layout
from drift.checks import evaluate_window
from drift.compare import SignalResult, decide_single
from drift.decision import DriftPolicy
from drift.errors import IncompatibleBinsError, InsufficientDataError, InvalidInputError
from drift.window import WindowCounts

_Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Agreement:
    """Share of rows on which both versions predicted the same class, with a Wilson 95% interval."""

    rate: float
    n: int
    ci_low: float
    ci_high: float


@dataclass(frozen=True, slots=True)
class VersionComparison:
    signal: str
    reference_version: str
    current_version: str
    results: tuple[SignalResult, ...]  # distribution first, then the rate checks
    agreement: Agreement | None

    @property
    def distribution(self) -> SignalResult:
        return self.results[0]


def agreement(agree_count: int, total: int) -> Agreement:
    """Agreement rate from counts (e.g. the sum of ``ShadowAgree`` over shadowed rows).

    Raises
    ------
    InsufficientDataError
        ``total`` is 0.
    InvalidInputError
        Negative counts or more agreements than rows.
    """
    if total == 0:
        raise InsufficientDataError("agreement", 0, 1)
    if total < 0 or not 0 <= agree_count <= total:
        raise InvalidInputError("agree_count", f"need 0 <= agree_count ({agree_count}) <= total ({total})")
    rate = agree_count / total
    z2 = _Z95 * _Z95
    centre = (rate + z2 / (2 * total)) / (1 + z2 / total)
    half = _Z95 * math.sqrt(rate * (1 - rate) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return Agreement(rate, total, max(0.0, centre - half), min(1.0, centre + half))


def agreement_from_pairs(reference_classes: object, current_classes: object) -> Agreement:
    """Agreement rate from the two versions' predicted classes on the same rows."""
    a, b = np.asarray(reference_classes), np.asarray(current_classes)
    if a.ndim != 1 or a.shape != b.shape:
        raise InvalidInputError("current_classes", f"shape {b.shape} does not match {a.shape}")
    return agreement(int(np.count_nonzero(a == b)), int(a.size))


def _reference_column(column: Column, ref: WindowCounts, cur: WindowCounts) -> tuple[Column, WindowCounts]:
    """A column whose reference counts are the first version's window, and the second version's
    window re-expressed over the same bins."""
    if isinstance(column, CategoricalColumn):
        col = replace(column, counts=ref.counts, null_count=ref.null_count)
        return col, cur
    assert ref.layout is not None and cur.layout is not None
    layout = common_layout(ref.layout, cur.layout)
    coarse = np.searchsorted(layout, np.intersect1d(column.coarse_index, layout)).astype(np.int64)
    num = replace(column, edges=column.edges[layout], counts=ref.coarsened(layout), coarse_index=coarse,
                  nan_count=ref.nan_count, posinf_count=ref.posinf_count, neginf_count=ref.neginf_count,
                  null_count=ref.null_count)
    window = WindowCounts("numeric", num.digest, cur.coarsened(layout), np.arange(layout.size, dtype=np.int64),
                          cur.nan_count, cur.posinf_count, cur.neginf_count, cur.null_count)
    return num, window


def compare_versions(
    column: Column, reference: WindowCounts, current: WindowCounts, *, reference_version: str,
    current_version: str, agree_count: int | None = None, paired_count: int | None = None,
    policy: DriftPolicy | None = None,
) -> VersionComparison:
    """Compare two versions' prediction distributions over one baseline column's bins.

    Parameters
    ----------
    column
        The baseline column both windows were counted over (e.g. ``score`` or ``class``).
    reference, current
        Window counts of the serving version and of the candidate (shadow/canary).
    reference_version, current_version
        Their names, for the report.
    agree_count, paired_count
        Rows on which both versions agreed, out of rows scored by both (shadow telemetry); optional.
    policy
        Statistics, thresholds and minimum rows (default ``DriftPolicy()``).

    Returns
    -------
    VersionComparison
        The reference side having no rows makes every check ``no_data``/``insufficient_data``.

    Raises
    ------
    IncompatibleBinsError
        Windows not counted over ``column``.
    """
    policy = policy or DriftPolicy()
    for name, w in (("reference", reference), ("current", current)):
        if w.column_digest != column.digest or w.kind != column.kind:
            raise IncompatibleBinsError(column.name, f"{name} window was counted over other bins")
    agreed = None
    if paired_count:
        agreed = agreement(int(agree_count or 0), paired_count)
    if reference.finite_count < 2:
        col, cur = column, WindowCounts.empty(column)  # nothing to compare against: no_data, explicitly
    else:
        col, cur = _reference_column(column, reference, current)
    results = decide_single(evaluate_window(col, cur, policy), policy)
    return VersionComparison(column.name, reference_version, current_version, results, agreed)
