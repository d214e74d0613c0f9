"""Every statistic the engine offers, with its kind, binning and default thresholds.

A meta-test checks that each statistic module of the package appears here, so a new module cannot
be forgotten (evidently's stattests registry, httpx's transports).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from drift import (
    chi_square,
    exact,
    hellinger,
    jensen_shannon,
    ks,
    likelihood_ratio,
    psi,
    total_variation,
    wasserstein,
)


@dataclass(frozen=True, slots=True)
class StatisticSpec:
    name: str
    module: str
    kinds: tuple[str, ...]  # signal kinds it applies to: numeric, categorical
    binned: bool  # computed from window counts (else: raw samples, audits only)
    effect_size: bool  # an effect size (thresholded) rather than a test statistic (p-value)
    warn_threshold: float
    drift_threshold: float
    binning: str
    effect_floor: float = 0.0  # smallest effect the calibrated decision alerts on (0: not an effect size)


def _spec(module: ModuleType, kinds: tuple[str, ...], binned: bool, effect: bool, binning: str) -> StatisticSpec:
    name = module.NAME
    drift = float(module.DEFAULT_THRESHOLD)
    warn = float(getattr(module, "WARN_THRESHOLD", drift))
    floor = float(getattr(module, "EFFECT_FLOOR", 0.0))
    return StatisticSpec(name, module.__name__, kinds, binned, effect, warn, drift, binning, floor)


_COARSE = "10 reference-quantile bins (coarsened fine edges), out-of-range folded into the end bins"
_FINE = "the baseline's ~1,000 reference-quantile edges (or a cloud subset)"
_CLASSES = "baseline classes (top values) plus other"

STATISTICS: dict[str, StatisticSpec] = {
    spec.name: spec
    for spec in (
        _spec(psi, ("numeric", "categorical"), True, True, f"{_COARSE}; classes for categorical"),
        _spec(jensen_shannon, ("numeric", "categorical"), True, True, f"{_COARSE}; classes for categorical"),
        _spec(hellinger, ("numeric", "categorical"), True, True, f"{_COARSE}; classes for categorical"),
        _spec(total_variation, ("numeric", "categorical"), True, True, f"{_COARSE}; classes for categorical"),
        _spec(ks, ("numeric",), True, True, _FINE),
        _spec(wasserstein, ("numeric",), True, True, _FINE),
        _spec(chi_square, ("categorical",), True, False, _CLASSES),
        _spec(likelihood_ratio, ("categorical",), True, False, _CLASSES),
        StatisticSpec("ks_exact", exact.__name__, ("numeric",), False, True, ks.DEFAULT_THRESHOLD,
                      ks.DEFAULT_THRESHOLD, "raw samples"),
        StatisticSpec("cramer_von_mises_exact", exact.__name__, ("numeric",), False, False, 0.01, 0.01,
                      "raw samples"),
        StatisticSpec("wasserstein_sigma_exact", exact.__name__, ("numeric",), False, True,
                      wasserstein.DEFAULT_THRESHOLD, wasserstein.DEFAULT_THRESHOLD, "raw samples"),
    )
}
