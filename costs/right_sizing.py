"""Memory right-sizing and ARM advice for Lambda (and emulated) deployments.

Lambda gives CPU in proportion to memory (1,769 MB is one vCPU), so a smaller size is only cheaper if
the duration does not grow as much: measured durations at several sizes (sibling deployments, or an
imported AWS Lambda Power Tuning run) decide; without them the saving is an upper bound, said so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from costs.advice_model import Advice, AdvicePolicy, Evidence
from costs.catalogue import MB_PER_GB, LambdaArchPrices, PriceCatalogue
from costs.usage import Usage

LAMBDA_MIN_MB, LAMBDA_MAX_MB, SIZE_STEP_MB = 128, 10_240, 64
MemoryOption = tuple[float, float, str]  # (memory_mb, avg_duration_ms, where it was measured)


def round_up_size(memory_mb: float) -> int:
    """The smallest Lambda size (a multiple of 64 MB, 128..10,240) holding ``memory_mb``."""
    size = math.ceil(memory_mb / SIZE_STEP_MB - 1e-9) * SIZE_STEP_MB
    return int(min(max(size, LAMBDA_MIN_MB), LAMBDA_MAX_MB))


def _prices(u: Usage, catalogue: PriceCatalogue, architecture: str | None = None) -> LambdaArchPrices:
    d = u.deployment
    return catalogue.lambda_prices(architecture or d.architecture, d.region if d.provider == "aws" else None)


def _per_invocation_usd(prices: LambdaArchPrices, memory_mb: float, duration_ms: float) -> float:
    return (prices.request_usd_per_million / 1e6
            + duration_ms / 1000.0 * memory_mb / MB_PER_GB * prices.duration_usd_per_gb_s)


def sibling_memory_options(u: Usage, usages: Sequence[Usage]) -> list[MemoryOption]:
    """Average durations measured at other memory sizes by deployments of the same service,
    provider and architecture."""
    d = u.deployment
    out: list[MemoryOption] = []
    for other in usages:
        o = other.deployment
        if (o.id != d.id and o.service == d.service and o.provider == d.provider
                and o.architecture == d.architecture and other.memory_mb and other.memory_mb != u.memory_mb
                and other.avg_duration_ms is not None):
            out.append((other.memory_mb, other.avg_duration_ms, f"measured on {o.id}"))
    return out


def advise_memory(u: Usage, catalogue: PriceCatalogue, policy: AdvicePolicy,
                  options: Sequence[MemoryOption] = ()) -> list[Advice]:
    """Resize when max memory used leaves too much (or too little) headroom, or when a measured size
    is cheaper per invocation."""
    configured, used = u.memory_mb, u.memory_max_used_mb
    if configured is None or u.invocations <= 0:
        return []
    prices = _prices(u, catalogue)
    needed = used * (1.0 + policy.memory_headroom) if used is not None else 0.0
    evidence = [Evidence("configured memory", configured, "MB"), Evidence("invocations", u.invocations, "in window")]
    if used is not None:
        evidence += [Evidence("max memory used", used, "MB"), Evidence("used / configured", used / configured, "ratio")]
    if used is not None and used / configured >= policy.oom_risk_ratio:
        proposed = round_up_size(needed)
        extra = (u.cost.compute_usd + u.cost.init_usd) * u.monthly_factor * (proposed / configured - 1.0)
        return [Advice(u.deployment.id, "memory", "raise",
                       f"Max memory used {used:,.0f} MB is {used / configured:.0%} of {configured:,.0f} MB: "
                       f"out-of-memory risk, raise to {proposed:,} MB",
                       f"{configured:,.0f} MB", f"{proposed:,} MB", -extra,
                       "more memory also brings more CPU: duration usually drops", "-", "high", tuple(evidence))]
    measured = _best_measured(u, prices, configured, needed, options)
    if measured is not None:
        return [measured]
    if used is None or round_up_size(needed) >= configured:
        return []
    proposed = round_up_size(needed)
    share = 1.0 - proposed / configured
    saving = (u.cost.compute_usd + u.cost.init_usd + u.cost.warm_capacity_usd) * u.monthly_factor * share
    return [Advice(
        u.deployment.id, "memory", "resize",
        f"Max memory used is {used:,.0f} MB of {configured:,.0f} MB: {proposed:,} MB keeps "
        f"{policy.memory_headroom:.0%} headroom",
        f"{configured:,.0f} MB", f"{proposed:,} MB", saving,
        f"unmeasured: Lambda's CPU scales with memory, so CPU-bound inference may run up to "
        f"{configured / proposed:.1f}x longer, which would cancel the saving (an upper bound here); "
        f"measure with AWS Lambda Power Tuning",
        "init may take longer with less CPU", "low", tuple(evidence))]


def _best_measured(u: Usage, prices: LambdaArchPrices, configured: float, needed: float,
                   options: Sequence[MemoryOption]) -> Advice | None:
    current_ms = u.avg_duration_ms
    if current_ms is None or not options:
        return None
    current_usd = _per_invocation_usd(prices, configured, current_ms)
    candidates = [(_per_invocation_usd(prices, m, ms), m, ms, src) for m, ms, src in options
                  if m >= needed and m != configured]
    if not candidates:
        return None
    best_usd, memory, duration, source = min(candidates)
    if best_usd >= current_usd:
        return None
    saving = (current_usd - best_usd) * u.invocations * u.monthly_factor
    change = duration / current_ms - 1.0
    evidence = (Evidence("configured memory", configured, "MB"), Evidence("avg duration now", current_ms, "ms"),
                Evidence(f"avg duration at {memory:g} MB", duration, "ms"),
                Evidence("cost per invocation now", current_usd, "USD"),
                Evidence(f"cost per invocation at {memory:g} MB", best_usd, "USD"),
                Evidence("invocations", u.invocations, "in window"))
    return Advice(
        u.deployment.id, "memory", "resize",
        f"{memory:,.0f} MB is {1 - best_usd / current_usd:.0%} cheaper per invocation than {configured:,.0f} MB "
        f"({source})", f"{configured:,.0f} MB", f"{memory:,.0f} MB", saving,
        f"average duration {current_ms:,.1f} ms -> {duration:,.1f} ms ({change:+.0%})",
        "init time changes with the CPU share", "high" if "power tuning" in source else "medium", evidence)


def advise_architecture(u: Usage, usages: Sequence[Usage], catalogue: PriceCatalogue,
                        policy: AdvicePolicy) -> list[Advice]:
    """Switching between x86_64 and arm64: measured where the service runs on both, else from the
    price difference alone (x86_64 to arm64 only, low confidence)."""
    d = u.deployment
    memory = u.memory_mb
    if memory is None or u.invocations <= 0 or u.avg_duration_ms is None:
        return []
    other_arch = "arm64" if d.architecture == "x86_64" else "x86_64"
    here, there = _prices(u, catalogue), _prices(u, catalogue, other_arch)
    twin = next((o for o in usages if o.deployment.id != d.id and o.deployment.service == d.service
                 and o.deployment.architecture == other_arch and o.avg_duration_ms is not None
                 and o.memory_mb), None)
    warm_month = u.cost.warm_capacity_usd * u.monthly_factor
    warm_saving = warm_month * (1.0 - there.provisioned_usd_per_gb_s / here.provisioned_usd_per_gb_s)
    if twin is None or twin.avg_duration_ms is None or twin.memory_mb is None:
        if d.architecture != "x86_64":
            return []
        saving = (u.cost.compute_usd + u.cost.init_usd) * u.monthly_factor * (
            1.0 - there.duration_usd_per_gb_s / here.duration_usd_per_gb_s) + warm_saving
        return [Advice(d.id, "architecture", "switch",
                       f"arm64 is {1 - there.duration_usd_per_gb_s / here.duration_usd_per_gb_s:.0%} cheaper "
                       "per GB-second than x86_64", "x86_64", "arm64", saving,
                       "not measured: run an arm64 canary of this model to measure it", "not measured", "low",
                       (Evidence("duration cost", u.cost.compute_usd, "USD in window"),
                        Evidence("x86_64 rate", here.duration_usd_per_gb_s, "USD/GB-s"),
                        Evidence("arm64 rate", there.duration_usd_per_gb_s, "USD/GB-s")))]
    now_usd = _per_invocation_usd(here, memory, u.avg_duration_ms)
    then_usd = _per_invocation_usd(there, twin.memory_mb, twin.avg_duration_ms)
    if then_usd >= now_usd:
        return []
    change = then_usd / now_usd - 1.0
    latency = twin.avg_duration_ms / u.avg_duration_ms - 1.0
    p95 = (f"; p95 {u.latency_p95_ms:,.1f} ms -> {twin.latency_p95_ms:,.1f} ms"
           if u.latency_p95_ms and twin.latency_p95_ms else "")
    enough = min(u.invocations, twin.invocations) >= 1000
    confidence = "low" if u.period_s < 86_400 else "high" if enough else "medium"  # under a day: low
    return [Advice(
        d.id, "architecture", "switch",
        f"{other_arch} (measured on {twin.deployment.id}) changes cost per invocation by {change:+.0%} "
        f"with {latency:+.0%} duration: price-performance {-change:.0%} better",
        d.architecture, other_arch, (now_usd - then_usd) * u.invocations * u.monthly_factor + warm_saving,
        f"average duration {u.avg_duration_ms:,.1f} ms -> {twin.avg_duration_ms:,.1f} ms ({latency:+.0%}){p95}",
        "init time measured separately; not compared", confidence,
        (Evidence(f"avg duration {d.architecture}", u.avg_duration_ms, "ms"),
         Evidence(f"avg duration {other_arch}", twin.avg_duration_ms, "ms"),
         Evidence(f"cost per invocation {d.architecture}", now_usd, "USD"),
         Evidence(f"cost per invocation {other_arch}", then_usd, "USD"),
         Evidence("invocations", u.invocations, "in window"),
         Evidence(f"invocations {other_arch}", twin.invocations, "in window")))]
