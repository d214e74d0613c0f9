"""Warm-capacity advice for Lambda provisioned concurrency (PC): reduce it when its utilisation stays
below the policy's threshold (to a level computed from the utilisation distribution), raise it on
spillover, propose it when cold starts break the SLO, and show what idle capacity costs."""

from __future__ import annotations

import math

from costs.advice_model import Advice, AdvicePolicy, Evidence, confidence_from_period, quantile
from costs.catalogue import MB_PER_GB, LambdaArchPrices, PriceCatalogue
from costs.pricing import provisioned_monthly_usd
from costs.usage import Usage


def advise_warm_capacity(u: Usage, catalogue: PriceCatalogue, policy: AdvicePolicy) -> list[Advice]:
    """Provisioned-concurrency advice for one Lambda (or emulated) deployment."""
    memory = u.memory_mb
    if memory is None:
        return []
    d = u.deployment
    prices = catalogue.lambda_prices(d.architecture, d.region if d.provider == "aws" else None)
    out: list[Advice] = []
    if u.provisioned_concurrency > 0:
        out.append(_idle_cost(u, memory))
        if u.spillover > 0:
            out.append(_raise(u, prices, memory))
        elif u.utilization:
            util_q = quantile(u.utilization, policy.utilization_quantile)
            if util_q < policy.reduce_below_utilization:
                out.append(_reduce(u, prices, memory, util_q, policy))
    elif (u.cold_start_rate or 0.0) > policy.cold_start_rate_slo:
        out.append(_propose(u, prices, memory, policy))
    return out


def _on_pc_gb_s_month(u: Usage, memory: float) -> float:
    """Billed GB-s per month of the invocations that ran on provisioned concurrency."""
    share = 1.0 - u.spillover / u.invocations if u.invocations > 0 else 0.0
    return u.billed_duration_ms / 1000.0 * memory / MB_PER_GB * share * u.monthly_factor


def _evidence(u: Usage, util_q: float | None, policy: AdvicePolicy) -> tuple[Evidence, ...]:
    items = [Evidence("provisioned concurrency", u.provisioned_concurrency, "environments"),
             Evidence("invocations", u.invocations, "in window"),
             Evidence("spillover invocations", u.spillover, "in window"),
             Evidence("window", u.period_s / 3600.0, "h"),
             Evidence("provisioned cost", u.cost.warm_capacity_usd, "USD in window"),
             Evidence("idle provisioned cost", u.cost.idle_usd, "USD in window")]
    if util_q is not None:
        items.insert(1, Evidence(f"utilisation p{policy.utilization_quantile * 100:g}", util_q, "ratio"))
        items.insert(2, Evidence("utilisation mean", sum(u.utilization) / len(u.utilization), "ratio"))
    return tuple(items)


def _reduce(u: Usage, prices: LambdaArchPrices, memory: float, util_q: float, policy: AdvicePolicy) -> Advice:
    pc = u.provisioned_concurrency
    level = math.ceil(pc * util_q / policy.target_utilization - 1e-9)
    confidence = confidence_from_period(u.period_s, observations=len(u.utilization))
    busy = pc * util_q
    if level <= 0:
        extra_duration = _on_pc_gb_s_month(u, memory) * (prices.duration_usd_per_gb_s
                                                         - prices.provisioned_duration_usd_per_gb_s)
        saving = provisioned_monthly_usd(prices, level=pc, memory_mb=memory) - extra_duration
        bursts = u.bursts * u.monthly_factor
        return Advice(
            u.deployment.id, "warm_capacity", "scale_to_zero",
            f"Provisioned concurrency of {pc:g} is almost never used (p{policy.utilization_quantile * 100:g} "
            f"utilisation {util_q:.0%}): remove it and scale to zero",
            f"{pc:g} provisioned", "0 provisioned (on demand)", saving,
            "invocations that start cold pay the init time on top of their duration",
            f"adds about {bursts:,.0f} cold starts a month (one per burst of traffic after an idle step)",
            confidence, _evidence(u, util_q, policy) + (Evidence("bursts", u.bursts, "in window"),))
    saving = provisioned_monthly_usd(prices, level=pc - level, memory_mb=memory)
    return Advice(
        u.deployment.id, "warm_capacity", "reduce",
        f"Provisioned concurrency {pc:g} runs at {util_q:.0%} utilisation (p{policy.utilization_quantile * 100:g}, "
        f"below {policy.reduce_below_utilization:.0%}): reduce it to {level}",
        f"{pc:g} provisioned", f"{level} provisioned", saving,
        f"none while concurrency stays at or below {level} (about {busy:.1f} environments were busy at the "
        f"p{policy.utilization_quantile * 100:g})",
        f"bursts above {level} concurrent requests spill over to on-demand environments, which may start cold",
        confidence, _evidence(u, util_q, policy))


def _raise(u: Usage, prices: LambdaArchPrices, memory: float) -> Advice:
    pc = u.provisioned_concurrency
    served = u.invocations - u.spillover
    level = max(math.ceil(pc * u.invocations / served - 1e-9), int(pc) + 1) if served > 0 else int(2 * pc)
    spill_share = u.spillover / u.invocations if u.invocations > 0 else 1.0
    spill_gb_s_month = u.billed_duration_ms / 1000.0 * memory / MB_PER_GB * spill_share * u.monthly_factor
    duration_saving = spill_gb_s_month * (prices.duration_usd_per_gb_s - prices.provisioned_duration_usd_per_gb_s)
    init_saving = u.init_ms / 1000.0 * memory / MB_PER_GB * prices.duration_usd_per_gb_s * u.monthly_factor
    extra = provisioned_monthly_usd(prices, level=level - pc, memory_mb=memory)
    # Under a day of data is low confidence, however clear the spillover (as for every other advice).
    confidence = "low" if u.period_s < 86_400 else "high" if spill_share >= 0.01 else "medium"
    return Advice(
        u.deployment.id, "warm_capacity", "raise",
        f"{u.spillover:,.0f} invocations ({spill_share:.1%}) spilled over provisioned concurrency {pc:g}: "
        f"raise it to {level}",
        f"{pc:g} provisioned", f"{level} provisioned", duration_saving + init_saving - extra,
        f"the {spill_share:.1%} of invocations that spilled over stop waiting for new environments",
        f"removes up to {u.spillover * u.monthly_factor:,.0f} on-demand invocations a month, the cold "
        f"starts among them ({u.cold_starts:,.0f} in the window)",
        confidence, _evidence(u, None, AdvicePolicy()) + (Evidence("cold starts", u.cold_starts, "in window"),))


def _propose(u: Usage, prices: LambdaArchPrices, memory: float, policy: AdvicePolicy) -> Advice:
    typical = quantile(u.concurrency_max, 0.5) if u.concurrency_max else 1.0
    peak = quantile(u.concurrency_max, 0.99) if u.concurrency_max else 1.0
    level = max(1, math.ceil(typical - 1e-9))
    share = min(1.0, level / max(peak, level))
    cost = provisioned_monthly_usd(prices, level=level, memory_mb=memory)
    gb_s_month = u.billed_duration_ms / 1000.0 * memory / MB_PER_GB * u.monthly_factor
    duration_saving = gb_s_month * share * (prices.duration_usd_per_gb_s - prices.provisioned_duration_usd_per_gb_s)
    rate = u.cold_start_rate or 0.0
    return Advice(
        u.deployment.id, "warm_capacity", "raise",
        f"Cold starts hit {rate:.1%} of invocations (SLO {policy.cold_start_rate_slo:.0%}): provision "
        f"{level} warm environments (the median concurrency)",
        "0 provisioned", f"{level} provisioned", duration_saving - cost,
        "invocations served warm skip the init time",
        f"removes most of the {u.cold_starts * u.monthly_factor:,.0f} cold starts a month while concurrency "
        f"stays at or below {level}",
        confidence_from_period(u.period_s, observations=u.invocations),
        (Evidence("cold start rate", rate, "ratio"), Evidence("cold starts", u.cold_starts, "in window"),
         Evidence("concurrency median", typical, "executions"), Evidence("concurrency p99", peak, "executions"),
         Evidence("invocations", u.invocations, "in window")))


def _idle_cost(u: Usage, memory: float) -> Advice:
    warm_month = u.cost.warm_capacity_usd * u.monthly_factor
    idle_month = u.cost.idle_usd * u.monthly_factor
    served = (u.invocations - u.spillover) * u.monthly_factor
    per_1k = f"${1000 * warm_month / served:,.4f} of capacity per 1,000 served" if served > 0 else "nothing served"
    return Advice(
        u.deployment.id, "idle_cost", "info",
        f"Provisioned concurrency costs ${warm_month:,.2f}/month, ${idle_month:,.2f} of it idle; "
        f"it served {served:,.0f} invocations/month ({per_1k})",
        f"{u.provisioned_concurrency:g} x {memory:g} MB provisioned", "-", 0.0,
        "-", "-", confidence_from_period(u.period_s, observations=len(u.utilization)),
        (Evidence("provisioned cost", warm_month, "USD/month"), Evidence("idle cost", idle_month, "USD/month"),
         Evidence("invocations served", served, "per month")))
