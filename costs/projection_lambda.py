"""Lambda, x86_64 and arm64, across memory sizes: latency scaled by the CPU share of each size
(:mod:`costs.lambda_cpu`), cold starts billed by the 2025 INIT rule, the month's cost at the traffic, and the
size it would choose. See :mod:`costs.projection`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from costs.catalogue import PriceCatalogue
from costs.lambda_cpu import lambda_vcpus, single_thread_slowdown
from costs.pricing import CostBreakdown, lambda_cost
from costs.projection_model import (
    MeasuredProfile,
    ProjectionSettings,
    meets_slo,
    monthly_requests,
    needed_memory_mb,
    stretched_ms,
)
from costs.right_sizing import LAMBDA_MAX_MB, round_up_size

TIE_SHARE = 0.01  # costs this close are a tie, settled by latency


@dataclass(frozen=True, slots=True)
class LambdaOption:
    architecture: str
    memory_mb: int
    vcpus: float
    p50_ms: float
    p95_ms: float
    mean_ms: float
    cold_start_ms: float  # projected INIT phase plus the first inference
    concurrent_environments: float  # requests in flight on average: rps x mean duration (Little's law)
    monthly: CostBreakdown
    fits_memory: bool  # memory >= peak memory with headroom
    meets_slo: bool

    @property
    def monthly_usd(self) -> float:
        return self.monthly.total_usd


def lambda_option(profile: MeasuredProfile, settings: ProjectionSettings, catalogue: PriceCatalogue, *,
                  architecture: str, memory_mb: int) -> LambdaOption:
    """One architecture at one memory size: latency scaled by the CPU share, the month's cost at the rps."""
    arch_factor = settings.arm64_factor if architecture == "arm64" else 1.0
    factor = single_thread_slowdown(memory_mb) * arch_factor
    p50, p95, mean = (stretched_ms(ms, profile.cpu_fraction, factor)
                      for ms in (profile.p50_ms, profile.p95_ms, profile.mean_ms))
    # INIT (imports, model read, session creation) is CPU work too: it takes the same slowdown.
    init_ms = profile.init_ms * factor
    cold_ms = init_ms + profile.first_inference_ms * factor
    invocations = monthly_requests(settings)
    monthly = lambda_cost(catalogue.lambda_prices(architecture, settings.lambda_region), memory_mb=memory_mb,
                          invocations=invocations, billed_duration_ms=invocations * math.ceil(mean),
                          init_ms=invocations * settings.cold_start_share * init_ms)
    return LambdaOption(architecture, memory_mb, lambda_vcpus(memory_mb), p50, p95, mean, cold_ms,
                        settings.rps * mean / 1000.0, monthly, memory_mb >= needed_memory_mb(profile, settings),
                        meets_slo(settings, p95, cold_ms))


def lambda_sizes(profile: MeasuredProfile, settings: ProjectionSettings) -> tuple[int, ...]:
    """The ladder, plus the smallest size holding the peak memory with headroom (when Lambda has one)."""
    needed = needed_memory_mb(profile, settings)
    sizes = set(settings.lambda_memory_mb)
    if needed <= LAMBDA_MAX_MB:
        sizes.add(round_up_size(needed))
    return tuple(sorted(sizes))


def lambda_options(profile: MeasuredProfile, settings: ProjectionSettings, catalogue: PriceCatalogue
                   ) -> tuple[LambdaOption, ...]:
    """Every architecture at every size of :func:`lambda_sizes`, x86_64 first."""
    return tuple(lambda_option(profile, settings, catalogue, architecture=arch, memory_mb=m)
                 for arch in ("x86_64", "arm64") for m in lambda_sizes(profile, settings))


def choose_lambda(options: tuple[LambdaOption, ...], architecture: str) -> LambdaOption | None:
    """The cheapest size that holds the model and meets the SLO (among sizes within ``TIE_SHARE`` of the
    cheapest, the fastest: below one vCPU the GB-seconds of CPU-bound work barely change with memory);
    when none meets the SLO, the fastest that holds the model (check ``meets_slo``); None when no size
    holds it."""
    fitting = [o for o in options if o.architecture == architecture and o.fits_memory]
    meeting = [o for o in fitting if o.meets_slo]
    if not meeting:
        return min(fitting, key=lambda o: (o.p95_ms, o.monthly_usd)) if fitting else None
    cheapest = min(o.monthly_usd for o in meeting)
    near = [o for o in meeting if o.monthly_usd <= cheapest * (1.0 + TIE_SHARE)]
    return min(near, key=lambda o: (o.p95_ms, o.monthly_usd, o.memory_mb))
