"""Drift engine: baselines as counts, mergeable window counts, statistics and decisions.

Pure computation over numpy (scipy only inside the functions that need exact p-values, imported
lazily so ``import drift`` stays fast). No pandas, SDKs, clock or environment reads.

Interfaces other packages use (keep stable):

Baselines (``drift.baseline``)
    ``build_baseline(signals, *, categorical, model_sha256, version) -> Baseline``;
    ``Baseline.to_dict()`` / ``Baseline.from_dict(d)`` (JSON-able, <= 32 KB per column);
    ``Baseline.column(signal) -> NumericColumn | CategoricalColumn``;
    ``baseline_from_windows(baseline, {signal: merged WindowCounts}, *, model_sha256, version)``
    (``drift.rebase``): a baseline from a chosen time window, keeping the bins.
    Signal names: ``score`` (top-class probability, numeric), ``class`` (predicted class,
    categorical), ``feature:<name>`` (input features, numeric).
    Each column carries a ``Calibration`` (``drift.calibration``): how far a window of N rows strays
    from it by chance, learned from the reference in its order (sampling noise plus between-window
    variation), optional in the dict form (older baselines load with None). A baseline may also
    carry ``label_calibration`` (a dict that ``quality`` reads; drift ignores it).

Window state (``drift.window``): integer counts over the baseline's bins, merged by adding
    ``WindowCounts.from_values(column, values)`` (local collector, per time step);
    ``WindowCounts.from_cdf_fractions(column, fractions, total_count, layout=...)`` (CloudWatch
    ``PR(:edge)`` / 100 at each edge); ``WindowCounts.from_bucket_counts(column, counts, layout=...)``
    (Cloud Monitoring distribution with the bounds below); ``WindowCounts.empty(column)``;
    ``merge(a, b)``, ``merge_all(windows)``; ``to_dict()`` / ``WindowCounts.from_dict(d)``.
    ``bin_edges_for_cloud(column, max_edges=199) -> CloudBins`` (``drift.cloud``) gives the layout,
    the CloudWatch edges (with the offset used for signals that can be negative) and the GCP bounds.

Comparison (``drift.compare``, ``drift.versions``)
    ``compare(baseline, windows, *, policy=None) -> DriftReport``: ``windows`` is a sequence, oldest
    first, of ``{signal: WindowCounts}``; ``DriftReport.results`` are typed ``SignalResult``s of the
    last window (statistic, effect, thresholds, noise floor, p-value with N, BH-adjusted p-value,
    status in ok/warn/drift/insufficient_data/no_data, negligible flag, effect floor and immediate
    threshold), ``history`` every window. A breach needs the effect above the statistic's floor and
    above the calibrated 99.9% chance level; large breaches are drift at once, borderline ones
    after persistence (``drift.decision``).
    ``compare_values(baseline, {signal: values})`` counts raw values and compares them as one window.
    ``compare_versions(column, reference, current, *, reference_version, current_version,
    agree_count=None, paired_count=None) -> VersionComparison``; ``agreement(agree, total)``.
    ``DriftPolicy`` holds every threshold and rule; ``Status`` the statuses.

Exact statistics on raw samples, for audits (``drift.exact``)
    ``ks_exact``, ``cramer_von_mises_exact``, ``wasserstein_sigma_exact`` -> ``ExactResult``.

Settings and display: ``settings_from_mapping(settings.drift) -> DriftSettings`` validates the
    ``[drift]`` table; ``overlay(column, window) -> Overlay`` gives chart-ready shares (dashboard).

Errors (``drift.errors``): ``DriftError`` and its subclasses.
"""

from __future__ import annotations

from drift.baseline import Baseline, CategoricalColumn, NumericColumn, build_baseline
from drift.calibration import Calibration, NoiseLevels, noise_levels
from drift.cloud import CloudBins, bin_edges_for_cloud
from drift.compare import DriftReport, SignalResult, compare, compare_values
from drift.decision import DriftPolicy, Status
from drift.display import Overlay, overlay
from drift.errors import (
    BaselineError,
    DriftError,
    IncompatibleBinsError,
    InsufficientDataError,
    InvalidInputError,
    UnreadableBaselineError,
)
from drift.rebase import baseline_from_windows
from drift.settings import DriftSettings, settings_from_mapping
from drift.versions import Agreement, VersionComparison, agreement, agreement_from_pairs, compare_versions
from drift.window import WindowCounts, merge, merge_all

__all__ = [
    "Agreement",
    "Baseline",
    "BaselineError",
    "Calibration",
    "CategoricalColumn",
    "CloudBins",
    "DriftError",
    "DriftPolicy",
    "DriftReport",
    "DriftSettings",
    "IncompatibleBinsError",
    "InsufficientDataError",
    "InvalidInputError",
    "NoiseLevels",
    "NumericColumn",
    "Overlay",
    "SignalResult",
    "Status",
    "UnreadableBaselineError",
    "VersionComparison",
    "WindowCounts",
    "agreement",
    "agreement_from_pairs",
    "baseline_from_windows",
    "bin_edges_for_cloud",
    "build_baseline",
    "compare",
    "compare_values",
    "compare_versions",
    "merge",
    "merge_all",
    "noise_levels",
    "overlay",
    "settings_from_mapping",
]
