"""Which edges a cloud collector should query so its window counts land on the baseline's bins.

AWS CloudWatch: the percentile rank ``PR(:x)`` is the percent of values <= x (lower bound exclusive,
upper inclusive), i.e. exactly the right-closed CDF our bins use. One ``GetMetricData`` query per
edge gives the binned histogram, computed by CloudWatch itself. CloudWatch computes percentile
statistics only when *no value in the period is negative*, so:

- a signal whose baseline minimum is >= 0 (the prediction score, probabilities) is queried as is;
- otherwise the function must publish ``value + cloudwatch_offset`` as the metric, where the offset
  puts the reference minimum one reference range above 0; edges are shifted by the same offset.
  A window that still has a negative value returns no percentile data from CloudWatch, which the
  collector turns into an empty window, and that is reported as ``no_data``: never a silent "ok".

GCP Cloud Monitoring: explicit bucket bounds ``b_0 < ... < b_{n-1}`` give buckets ``(-inf, b_0)``,
``[b_{i-1}, b_i)``, ``[b_{n-1}, +inf)`` (left-closed). Using ``b_i = nextafter(edge_i, +inf)`` makes
``v < b_i`` equivalent to ``v <= edge_i`` for doubles, so the buckets equal our right-closed bins.

The default of 199 edges keeps one ``GetMetricData`` call (<= 500 queries) per signal and 200
buckets per distribution; the subset always includes the reference range ends and the coarse
(PSI) edges, so out-of-range rates and PSI/JS/Hellinger/TVD are exact, and KS/Wasserstein are
computed at the coarser resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drift.baseline import NumericColumn
from drift.errors import InvalidInputError

DEFAULT_CLOUD_EDGES = 199


@dataclass(frozen=True, slots=True)
class CloudBins:
    """Edges for one numeric signal; pass ``layout`` to ``WindowCounts.from_cdf_fractions`` /
    ``from_bucket_counts`` together with what the cloud returned for these edges, in this order."""

    layout: tuple[int, ...]  # indices into the baseline column's edges
    edges: tuple[float, ...]  # the baseline edges at those indices (right-closed bins)
    cloudwatch_offset: float  # publish value + offset when the baseline has negative values
    cloudwatch_edges: tuple[float, ...]  # edge + offset: query PR(:edge) for each
    gcp_bounds: tuple[float, ...]  # explicit bucket bounds for a Cloud Monitoring distribution

    def cloudwatch_statistics(self) -> list[str]:
        """The ``Stat`` strings of the GetMetricData queries, one per edge. Edges are written in plain
        positional notation (shortest round-trip digits, never an exponent such as ``1e-45``: the
        documented statistic syntax only shows plain numbers)."""
        return [f"PR(:{np.format_float_positional(edge, unique=True, trim='-')})" for edge in self.cloudwatch_edges]


def bin_edges_for_cloud(column: NumericColumn, *, max_edges: int = DEFAULT_CLOUD_EDGES) -> CloudBins:
    """Pick at most ``max_edges`` of the column's edges for a cloud collector to query.

    Parameters
    ----------
    column
        The baseline column of a numeric signal.
    max_edges
        Upper bound on the number of edges (CloudWatch queries / distribution bounds), >= 12.

    Returns
    -------
    CloudBins

    Raises
    ------
    InvalidInputError
        ``max_edges`` too small to hold the range ends and the coarse edges.
    """
    n = column.edges.size
    must = np.unique(np.concatenate(([0, n - 1], column.coarse_index))).astype(np.int64)
    if max_edges < must.size or max_edges < 2:
        raise InvalidInputError("max_edges", f"needs at least {must.size} edges (range ends + coarse bins)")
    if n <= max_edges:
        layout = np.arange(n, dtype=np.int64)
    else:
        spread = np.round(np.linspace(0, n - 1, max_edges - must.size + 2)).astype(np.int64)
        layout = np.union1d(must, spread)
        while layout.size > max_edges:  # overlaps made room short: drop evenly spaced optional edges
            optional = np.setdiff1d(layout, must)
            layout = np.union1d(must, optional[:: 2][: max_edges - must.size])
    edges = column.edges[layout]
    offset = 0.0 if column.min >= 0 else float(-(column.min - (column.max - column.min)))
    return CloudBins(
        layout=tuple(int(i) for i in layout), edges=tuple(float(e) for e in edges),
        cloudwatch_offset=offset, cloudwatch_edges=tuple(float(e + offset) for e in edges),
        gcp_bounds=tuple(float(b) for b in np.nextafter(edges, np.inf)),
    )
