"""Cloud Run at a few vCPU sizes, in both billing modes: the memory, concurrency and instance count it
would set, the month's cost each way, and the cheapest that meets the SLO. See :mod:`costs.projection`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from costs.catalogue import SECONDS_PER_MONTH, PriceCatalogue
from costs.pricing import CostBreakdown, cloud_run_cost
from costs.projection_model import MeasuredProfile, ProjectionSettings, meets_slo, monthly_requests, needed_memory_mb

# Memory sizes offered here (MiB): Cloud Run takes any size, these keep the table short.
CLOUD_RUN_MEMORY_MB = (512, 1024, 2048, 4096, 8192, 16384, 32768)
MIN_MB_PER_VCPU = 512  # keeps each vCPU size valid (Cloud Run needs at least 2 GiB for 4 vCPUs)
MAX_MB_PER_VCPU = 4096  # Cloud Run allows at most 4 GiB per vCPU (e.g. 16 GiB needs 4 vCPUs)
BILLING_ROUND_S = 0.1  # Cloud Run rounds billable instance time up to 100 ms


@dataclass(frozen=True, slots=True)
class CloudRunOption:
    vcpu: float
    memory_mb: int
    concurrency: int  # requests one instance takes at once
    instances: int  # to serve the traffic at the target utilisation
    p95_ms: float
    cold_start_ms: float  # the INIT phase plus the first inference, measured here
    request_based: CostBreakdown
    instance_based: CostBreakdown
    fits_memory: bool
    meets_slo: bool

    def monthly(self, billing_mode: str) -> CostBreakdown:
        return self.request_based if billing_mode == "request" else self.instance_based


@dataclass(frozen=True, slots=True)
class CloudRunChoice:
    option: CloudRunOption
    billing_mode: str  # request | instance

    @property
    def monthly_usd(self) -> float:
        return self.option.monthly(self.billing_mode).total_usd


def memory_for(profile: MeasuredProfile, settings: ProjectionSettings, vcpu: float) -> int:
    """The smallest offered size holding the peak memory with headroom and valid for ``vcpu``."""
    needed = max(needed_memory_mb(profile, settings), MIN_MB_PER_VCPU * vcpu)
    return next((m for m in CLOUD_RUN_MEMORY_MB if m >= needed), CLOUD_RUN_MEMORY_MB[-1])


def concurrency_for(p95_ms: float, vcpu: float, slo_p95_ms: float, max_concurrency: int) -> int:
    """The most requests in flight at once whose shared vCPUs keep p95 within the SLO: ``c`` requests on
    ``v`` vCPUs take ``p95 x c / v`` each once ``c > v``. At least one request per whole vCPU."""
    floor = max(1, int(vcpu))
    fits = math.floor(vcpu * slo_p95_ms / p95_ms) if p95_ms > 0 else max_concurrency
    return max(floor, min(fits, max_concurrency))


def cloud_run_option(profile: MeasuredProfile, settings: ProjectionSettings, catalogue: PriceCatalogue,
                     vcpu: float) -> CloudRunOption:
    """One vCPU size: instances for the traffic, and what they cost in each billing mode."""
    tier = catalogue.cloud_run_tier(settings.cloud_run_region)
    memory = memory_for(profile, settings, vcpu)
    per_instance_rps = vcpu * profile.throughput_rps
    instances = max(1, math.ceil(settings.rps / (per_instance_rps * settings.target_utilization)))
    requests = monthly_requests(settings)
    lifetime_s = instances * SECONDS_PER_MONTH
    per_request_s = math.ceil(profile.mean_ms / 1000.0 / BILLING_ROUND_S - 1e-9) * BILLING_ROUND_S
    serving_s = min(lifetime_s, requests * per_request_s)
    request_based = cloud_run_cost(tier, billing_mode="request", vcpu=vcpu, memory_mb=memory, requests=requests,
                                   serving_instance_s=serving_s)
    instance_based = cloud_run_cost(tier, billing_mode="instance", vcpu=vcpu, memory_mb=memory, requests=requests,
                                    serving_instance_s=lifetime_s)
    fits = needed_memory_mb(profile, settings) <= min(memory, MAX_MB_PER_VCPU * vcpu)
    cold_ms = profile.init_ms + profile.first_inference_ms
    return CloudRunOption(vcpu, memory, concurrency_for(profile.p95_ms, vcpu, settings.slo_p95_ms,
                                                        settings.max_concurrency),
                          instances, profile.p95_ms, cold_ms, request_based, instance_based, fits,
                          meets_slo(settings, profile.p95_ms, cold_ms))


def cloud_run_options(profile: MeasuredProfile, settings: ProjectionSettings, catalogue: PriceCatalogue
                      ) -> tuple[CloudRunOption, ...]:
    return tuple(cloud_run_option(profile, settings, catalogue, v) for v in settings.cloud_run_vcpus)


def choose_cloud_run(options: tuple[CloudRunOption, ...]) -> CloudRunChoice | None:
    """The cheapest size and billing mode that holds the model and meets the SLO; when none meets it, the
    cheapest that holds the model (check ``option.meets_slo``); None when none holds it."""
    fitting = [CloudRunChoice(o, mode) for o in options if o.fits_memory for mode in ("request", "instance")]
    meeting = [c for c in fitting if c.option.meets_slo]
    pool = meeting or fitting
    return min(pool, key=lambda c: (c.monthly_usd, c.option.vcpu)) if pool else None
