"""The cost formulas over arrays (one element per metric step), so a week of steps for a hundred
deployments is priced in a few numpy operations. The scalar :func:`costs.pricing.lambda_cost` and
:func:`costs.pricing.cloud_run_cost` call these with one element: there is one formula, not two."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from costs.catalogue import MB_PER_GB, CloudRunTier, LambdaArchPrices

FloatArray = npt.NDArray[np.float64]
ArrayLike = float | FloatArray


@dataclass(frozen=True, slots=True)
class CostArrays:
    """Per-step cost components (USD); ``idle`` is the part of ``warm_capacity`` that served nothing."""

    request: FloatArray
    compute: FloatArray
    init: FloatArray
    warm_capacity: FloatArray
    idle: FloatArray
    restore: FloatArray  # SnapStart restores (the billed restore time)

    @property
    def total(self) -> FloatArray:
        return self.request + self.compute + self.init + self.restore + self.warm_capacity


def as_checked(name: str, value: ArrayLike) -> FloatArray:
    """``value`` as a float array; ValueError naming it when any element is negative or not finite."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = arr[~np.isfinite(arr) | (arr < 0)][0]
        raise ValueError(f"{name} must be a finite number >= 0, got {bad!r}")
    return arr


def lambda_cost_arrays(
    prices: LambdaArchPrices,
    *,
    memory_mb: ArrayLike,
    invocations: ArrayLike,
    billed_duration_ms: ArrayLike,
    init_ms: ArrayLike = 0.0,
    restore_ms: ArrayLike = 0.0,
    provisioned_concurrency: ArrayLike = 0.0,
    period_s: ArrayLike = 0.0,
    provisioned_share: ArrayLike = 0.0,
    provisioned_utilization: ArrayLike | None = None,
) -> CostArrays:
    """Lambda cost per step at first-tier list prices (see :func:`costs.pricing.lambda_cost`)."""
    gb = as_checked("memory_mb", memory_mb) / MB_PER_GB
    inv = as_checked("invocations", invocations)
    billed = as_checked("billed_duration_ms", billed_duration_ms)
    init = as_checked("init_ms", init_ms)
    restore = as_checked("restore_ms", restore_ms)
    pc = as_checked("provisioned_concurrency", provisioned_concurrency)
    period = as_checked("period_s", period_s)
    share = as_checked("provisioned_share", provisioned_share)
    if np.any(share > 1.0):
        raise ValueError(f"provisioned_share must be within 0..1, got {share[share > 1.0][0]!r}")
    on_demand = prices.duration_usd_per_gb_s
    rate = share * prices.provisioned_duration_usd_per_gb_s + (1.0 - share) * on_demand
    warm = pc * gb * period * prices.provisioned_usd_per_gb_s
    if provisioned_utilization is None:
        idle = np.zeros_like(warm)
    else:
        idle = warm * (1.0 - np.clip(np.asarray(provisioned_utilization, dtype=float), 0.0, 1.0))
    return CostArrays(
        request=inv * prices.request_usd_per_million / 1e6,
        compute=billed / 1000.0 * gb * rate,
        init=init / 1000.0 * gb * on_demand,
        warm_capacity=warm,
        idle=idle,
        restore=restore / 1000.0 * gb * on_demand,
    )


def cloud_run_cost_arrays(
    tier: CloudRunTier,
    *,
    billing_mode: str,
    vcpu: ArrayLike,
    memory_mb: ArrayLike,
    requests: ArrayLike,
    serving_instance_s: ArrayLike,
    idle_instance_s: ArrayLike = 0.0,
) -> CostArrays:
    """Cloud Run cost per step (see :func:`costs.pricing.cloud_run_cost`)."""
    cpu = as_checked("vcpu", vcpu)
    gib = as_checked("memory_mb", memory_mb) / MB_PER_GB
    req = as_checked("requests", requests)
    serving = as_checked("serving_instance_s", serving_instance_s)
    idle_s = as_checked("idle_instance_s", idle_instance_s)
    if billing_mode == "request":
        busy, idle = tier.request_based, tier.idle_min_instance
        request = req * busy.request_usd_per_million / 1e6
    elif billing_mode == "instance":
        busy = idle = tier.instance_based
        request = np.zeros_like(req)
    else:
        raise ValueError(f"billing_mode must be one of request, instance, got {billing_mode!r}")
    idle_usd = idle_s * (cpu * idle.vcpu_usd_per_s + gib * idle.gib_usd_per_s)
    return CostArrays(
        request=request,
        compute=serving * (cpu * busy.vcpu_usd_per_s + gib * busy.gib_usd_per_s),
        init=np.zeros_like(serving),
        warm_capacity=idle_usd,
        idle=idle_usd,
        restore=np.zeros_like(serving),
    )
