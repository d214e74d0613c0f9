"""Cloud Run advice: request- vs instance-based billing (whichever is cheaper for the observed
traffic), min instances (their idle cost, reduced to the baseline traffic, or raised when cold starts
break the SLO) and request concurrency per instance."""

from __future__ import annotations

import math

from costs.advice_model import Advice, AdvicePolicy, Evidence, confidence_from_period, quantile
from costs.catalogue import CloudRunTier, PriceCatalogue
from costs.pricing import cloud_run_cost, min_instance_monthly_usd
from costs.usage import Usage

MAX_CONCURRENCY_STEP = 8  # never advise more than this many requests per instance at once


def advise_cloud_run(u: Usage, catalogue: PriceCatalogue, policy: AdvicePolicy) -> list[Advice]:
    memory = u.memory_mb
    if memory is None:
        return []
    tier = catalogue.cloud_run_tier(u.deployment.region)
    vcpu = u.deployment.cpu or catalogue.gcp_cloud_run.default_vcpu
    out = [a for a in (_billing_mode(u, tier, vcpu, memory, policy),
                       _concurrency(u, policy)) if a is not None]
    out += _min_instances(u, tier, vcpu, memory, policy)
    return out


def _serving_s(u: Usage) -> float:
    if u.deployment.billing_mode == "instance":
        return max(u.billable_instance_s - u.idle_instance_s, 0.0) if u.billable_instance_s else u.active_instance_s
    return u.billable_instance_s or u.active_instance_s


def _billing_mode(u: Usage, tier: CloudRunTier, vcpu: float, memory: float, policy: AdvicePolicy) -> Advice | None:
    serving = _serving_s(u)
    if u.deployment.billing_mode == "request":
        # Instance-based billing pays for the whole lifetime: serving plus idle, and the instances
        # request-based billing would have shut down are approximated by the active time.
        lifetime = max(serving, u.active_instance_s) + u.idle_instance_s
    else:
        lifetime = serving + u.idle_instance_s
    costs = {mode: cloud_run_cost(tier, billing_mode=mode, vcpu=vcpu, memory_mb=memory, requests=u.invocations,
                                  serving_instance_s=serving if mode == "request" else lifetime,
                                  idle_instance_s=u.idle_instance_s if mode == "request" else 0.0).total_usd
             for mode in ("request", "instance")}
    current = u.deployment.billing_mode
    other = "instance" if current == "request" else "request"
    if costs[current] <= 0 or costs[other] >= costs[current] * (1.0 - policy.switch_margin):
        return None
    saving = (costs[current] - costs[other]) * u.monthly_factor
    return Advice(
        u.deployment.id, "billing_mode", "switch",
        f"{other}-based billing would have cost {1 - costs[other] / costs[current]:.0%} less for this traffic",
        f"{current}-based", f"{other}-based", saving,
        "instance-based keeps CPU allocated between requests: background work and latency are unaffected"
        if other == "instance" else "none", "none",
        confidence_from_period(u.period_s, observations=u.invocations),
        (Evidence("requests", u.invocations, "in window"), Evidence("serving instance time", serving, "s"),
         Evidence("idle instance time", u.idle_instance_s, "s"),
         Evidence(f"{current}-based cost", costs[current], "USD in window"),
         Evidence(f"{other}-based cost", costs[other], "USD in window")))


def _concurrency(u: Usage, policy: AdvicePolicy) -> Advice | None:
    cpu = u.cpu_utilization_p95
    if u.deployment.concurrency > 1 or cpu is None or cpu <= 0 or u.invocations <= 0:
        return None
    k = min(MAX_CONCURRENCY_STEP, math.floor(policy.target_utilization / cpu))
    if k < 2:
        return None
    saving = u.cost.compute_usd * u.monthly_factor * (1.0 - 1.0 / k)
    rows = u.rows / u.invocations
    return Advice(
        u.deployment.id, "concurrency", "raise",
        f"One request per instance at CPU p95 {cpu:.0%}: let each instance serve {k} requests at once "
        f"(or batch rows; now {rows:.1f} rows per request)", "concurrency 1", f"concurrency {k}", saving,
        f"requests share the CPU: latency rises as CPU nears {policy.target_utilization:.0%}",
        "fewer instances start, so fewer cold starts", "low",
        (Evidence("cpu utilisation p95", cpu, "ratio"), Evidence("rows per request", rows, "rows"),
         Evidence("serving cost", u.cost.compute_usd, "USD in window")))


def _min_instances(u: Usage, tier: CloudRunTier, vcpu: float, memory: float, policy: AdvicePolicy) -> list[Advice]:
    d = u.deployment
    per_instance = min_instance_monthly_usd(tier, billing_mode=d.billing_mode, vcpu=vcpu, memory_mb=memory)
    confidence = confidence_from_period(u.period_s, observations=len(u.instances_active))
    out: list[Advice] = []
    idle_mean = u.idle_instance_s / u.period_s
    if d.min_instances > 0 or idle_mean > 0:
        idle_month = u.cost.idle_usd * u.monthly_factor
        out.append(Advice(
            d.id, "idle_cost", "info",
            f"Idle min instances cost ${idle_month:,.2f}/month ({idle_mean:.2f} instances idle on average; "
            f"${per_instance:,.2f}/month per idle instance)", f"min instances {d.min_instances}", "-", 0.0,
            "-", "-", confidence,
            (Evidence("idle instance time", u.idle_instance_s, "s"), Evidence("idle cost", idle_month, "USD/month"),
             Evidence("idle instances mean", idle_mean, "instances"))))
    baseline = math.ceil(quantile(u.instances_active, policy.baseline_quantile) - 1e-9) if u.instances_active else 0
    if d.min_instances > baseline:
        out.append(Advice(
            d.id, "warm_capacity", "reduce" if baseline > 0 else "scale_to_zero",
            f"Min instances {d.min_instances} exceed the baseline traffic ({baseline} active instances at the "
            f"p{policy.baseline_quantile * 100:g}): set min instances to {baseline}",
            f"min instances {d.min_instances}", f"min instances {baseline}",
            (d.min_instances - baseline) * per_instance,
            "none at baseline traffic; requests above it may wait for a starting instance",
            f"adds about {u.bursts * u.monthly_factor:,.0f} cold starts a month at most (one per burst)"
            if baseline == 0 else f"starts beyond {baseline} instances are cold", confidence,
            (Evidence("min instances", d.min_instances, "instances"),
             Evidence(f"active instances p{policy.baseline_quantile * 100:g}", baseline, "instances"),
             Evidence("idle instance time", u.idle_instance_s, "s"))))
    elif d.min_instances == 0 and (u.cold_start_rate or 0.0) > policy.cold_start_rate_slo:
        level = max(1, math.ceil(quantile(u.instances_active, 0.5) - 1e-9)) if u.instances_active else 1
        rate = u.cold_start_rate or 0.0
        out.append(Advice(
            d.id, "warm_capacity", "raise",
            f"Cold starts hit {rate:.1%} of requests (SLO {policy.cold_start_rate_slo:.0%}): keep {level} min "
            "instances", "min instances 0", f"min instances {level}", -level * per_instance,
            "requests served by a warm instance skip the startup latency",
            f"removes most of the {u.cold_starts * u.monthly_factor:,.0f} cold starts a month", confidence,
            (Evidence("cold start rate", rate, "ratio"), Evidence("cold starts", u.cold_starts, "in window"))))
    return out
