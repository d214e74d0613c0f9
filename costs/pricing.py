"""The cost of one deployment over a period, from the catalogue's prices (:mod:`costs.catalogue`).

The formulas here are plain arithmetic over usage quantities so that each one can be checked by hand
against the published price pages; they call the array formulas of :mod:`costs.formulas` with one
element, so there is one formula, not two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from costs.catalogue import MB_PER_GB, SECONDS_PER_MONTH, CloudRunTier, LambdaArchPrices
from costs.formulas import CostArrays, cloud_run_cost_arrays, lambda_cost_arrays


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Cost of one deployment over one period, split by what it pays for (USD)."""

    request_usd: float = 0.0  # per-request fees
    compute_usd: float = 0.0  # duration (Lambda) or instance time while serving (Cloud Run)
    init_usd: float = 0.0  # billed initialisation (Lambda on-demand cold starts)
    warm_capacity_usd: float = 0.0  # provisioned concurrency or idle min instances, used or not
    idle_usd: float = 0.0  # the part of warm_capacity_usd that served nothing (included above)
    restore_usd: float = 0.0  # billed SnapStart restore time (Lambda cold starts of the other kind)

    @property
    def total_usd(self) -> float:
        return self.request_usd + self.compute_usd + self.init_usd + self.restore_usd + self.warm_capacity_usd

    def __add__(self, other: CostBreakdown) -> CostBreakdown:
        return CostBreakdown(self.request_usd + other.request_usd, self.compute_usd + other.compute_usd,
                             self.init_usd + other.init_usd, self.warm_capacity_usd + other.warm_capacity_usd,
                             self.idle_usd + other.idle_usd, self.restore_usd + other.restore_usd)


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def breakdown(arrays: CostArrays) -> CostBreakdown:
    """The components of ``arrays`` summed over their steps."""
    return CostBreakdown(float(arrays.request.sum()), float(arrays.compute.sum()), float(arrays.init.sum()),
                         float(arrays.warm_capacity.sum()), float(arrays.idle.sum()), float(arrays.restore.sum()))


def lambda_cost(
    prices: LambdaArchPrices,
    *,
    memory_mb: float,
    invocations: float,
    billed_duration_ms: float,
    init_ms: float = 0.0,
    restore_ms: float = 0.0,
    provisioned_concurrency: float = 0.0,
    period_s: float = 0.0,
    provisioned_share: float = 0.0,
    provisioned_utilization: float | None = None,
) -> CostBreakdown:
    """Cost of a Lambda function (one version or alias) over a period, at first-tier list prices.

    Parameters
    ----------
    prices
        The architecture's (and region's) prices.
    memory_mb
        Configured memory.
    invocations
        Billed requests.
    billed_duration_ms
        Billed duration summed over the invocations, the billed init time excluded.
    init_ms
        Billed initialisation time summed over on-demand cold starts.
    restore_ms
        Billed restore time summed over SnapStart restores.
    provisioned_concurrency
        Configured provisioned concurrency during the period.
    period_s
        Length of the period (what provisioned concurrency is billed for).
    provisioned_share
        Share (0..1) of the invocations served by provisioned concurrency (the rest spilled over).
    provisioned_utilization
        Average utilisation (0..1) of the provisioned concurrency; sets ``idle_usd``.

    Returns
    -------
    CostBreakdown

    Raises
    ------
    ValueError
        When a quantity is negative or not finite, or a share is outside 0..1.
    """
    return breakdown(lambda_cost_arrays(
        prices, memory_mb=memory_mb, invocations=invocations, billed_duration_ms=billed_duration_ms,
        init_ms=init_ms, restore_ms=restore_ms, provisioned_concurrency=provisioned_concurrency, period_s=period_s,
        provisioned_share=provisioned_share, provisioned_utilization=provisioned_utilization))


def lambda_monthly_duration_usd(prices: LambdaArchPrices, gb_s_per_month: float) -> float:
    """On-demand duration cost of a month's GB-seconds across the volume tiers (account-wide)."""
    _check_non_negative(gb_s_per_month=gb_s_per_month)
    total, lower = 0.0, 0.0
    for tier in prices.duration_tiers:
        upper = math.inf if tier.up_to_gb_s is None else tier.up_to_gb_s
        if gb_s_per_month <= lower:
            break
        total += (min(gb_s_per_month, upper) - lower) * tier.usd_per_gb_s
        lower = upper
    return total


def cloud_run_cost(
    tier: CloudRunTier,
    *,
    billing_mode: str,
    vcpu: float,
    memory_mb: float,
    requests: float,
    serving_instance_s: float,
    idle_instance_s: float = 0.0,
) -> CostBreakdown:
    """Cost of a Cloud Run service or revision over a period.

    Parameters
    ----------
    tier
        The region's price tier.
    billing_mode
        ``request`` (billed while starting, serving and stopping, plus idle min instances at the idle
        rate, plus request fees) or ``instance`` (billed for the whole instance lifetime, no request fee).
    vcpu
        vCPUs per instance.
    memory_mb
        Memory per instance (MiB; priced per GiB-second).
    requests
        Requests served.
    serving_instance_s
        Instance-seconds spent serving (Cloud Run's billable instance time in request-based mode).
    idle_instance_s
        Instance-seconds kept warm without serving (min instances).

    Returns
    -------
    CostBreakdown

    Raises
    ------
    ValueError
        When a quantity is negative or not finite, or the billing mode is unknown.
    """
    return breakdown(cloud_run_cost_arrays(
        tier, billing_mode=billing_mode, vcpu=vcpu, memory_mb=memory_mb, requests=requests,
        serving_instance_s=serving_instance_s, idle_instance_s=idle_instance_s))


def provisioned_monthly_usd(prices: LambdaArchPrices, *, level: float, memory_mb: float) -> float:
    """What ``level`` provisioned environments of ``memory_mb`` cost per month, used or not."""
    return level * memory_mb / MB_PER_GB * SECONDS_PER_MONTH * prices.provisioned_usd_per_gb_s


def min_instance_monthly_usd(tier: CloudRunTier, *, billing_mode: str, vcpu: float, memory_mb: float) -> float:
    """What one idle Cloud Run min instance costs per month."""
    return cloud_run_cost(tier, billing_mode=billing_mode, vcpu=vcpu, memory_mb=memory_mb, requests=0.0,
                          serving_instance_s=0.0, idle_instance_s=SECONDS_PER_MONTH).warm_capacity_usd
