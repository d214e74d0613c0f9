"""Advice scenarios from the issue, each checked against numbers computed by hand."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costs.advice import advise, top_advice
from costs.advice_model import Advice, AdvicePolicy
from costs.catalogue import SECONDS_PER_MONTH, load_catalogue
from costs.errors import PowerTuningImportError
from costs.power_tuning import parse_power_tuning
from costs.usage import summarize_usage
from tests.costs.builders import lam, run, steady

CAT = load_catalogue()
WEEK_S = 7 * 86_400
X86_PC = 0.0000041667


def _advice(deployments, points, **kw) -> list[Advice]:
    return advise(summarize_usage(deployments, points, CAT, period_s=WEEK_S), CAT, **kw)


def _one(advice: list[Advice], kind: str) -> Advice:
    found = [a for a in advice if a.kind == kind]
    assert len(found) == 1, advice
    return found[0]


def test_provisioned_concurrency_at_12_percent_is_reduced_with_level_and_saving() -> None:
    d = lam("scorer", pc=10)
    pts = steady(d.id, {"invocations_count": 3600, "duration_sum_ms": 3600 * 50.0,
                        "provisioned_concurrency_count": 10, "provisioned_utilization_ratio": 0.12}, hours=168)
    a = _one([x for x in _advice([d], pts) if x.action != "info"], "warm_capacity")
    assert a.action == "reduce"
    # ceil(10 x 0.12 / 0.70) = ceil(1.714) = 2; saving = 8 environments x 1 GB x 730 h x $0.0000041667
    assert a.proposed == "2 provisioned"
    assert a.monthly_saving_usd == pytest.approx(8 * 1 * SECONDS_PER_MONTH * X86_PC)
    assert a.confidence == "high"
    assert {e.name for e in a.evidence} >= {"utilisation p99", "provisioned concurrency"}
    assert a.latency_effect and a.cold_start_effect


def test_idle_provisioned_capacity_cost_is_shown() -> None:
    d = lam("scorer", pc=10)
    pts = steady(d.id, {"invocations_count": 3600, "duration_sum_ms": 3600 * 50.0,
                        "provisioned_concurrency_count": 10, "provisioned_utilization_ratio": 0.12}, hours=168)
    a = _one(_advice([d], pts), "idle_cost")
    warm_month = 10 * SECONDS_PER_MONTH * X86_PC
    assert f"${warm_month:,.2f}/month" in a.summary
    assert f"${warm_month * 0.88:,.2f} of it idle" in a.summary


def test_unused_provisioned_concurrency_scales_to_zero_with_its_cold_starts() -> None:
    d = lam("quiet", pc=2)
    pts = steady(d.id, {"provisioned_concurrency_count": 2, "provisioned_utilization_ratio": 0.0,
                        "invocations_count": 0}, hours=168)
    pts += steady(d.id, {"invocations_count": 10, "duration_sum_ms": 1000.0,
                         "provisioned_utilization_ratio": 0.0, "provisioned_concurrency_count": 2}, hours=1)
    a = _one([x for x in _advice([d], pts) if x.kind == "warm_capacity"], "warm_capacity")
    assert a.action == "scale_to_zero" and "cold starts a month" in a.cold_start_effect


def test_spillover_raises_provisioned_concurrency() -> None:
    d = lam("busy", pc=4)
    pts = steady(d.id, {"invocations_count": 10_000, "duration_sum_ms": 10_000 * 80.0,
                        "provisioned_concurrency_count": 4, "provisioned_utilization_ratio": 1.0,
                        "provisioned_spillover_count": 2_000, "cold_starts_count": 50,
                        "init_sum_ms": 50 * 900.0}, hours=168)
    a = _one([x for x in _advice([d], pts) if x.kind == "warm_capacity"], "warm_capacity")
    assert a.action == "raise"
    assert a.proposed == "5 provisioned"  # ceil(4 x 10,000 / 8,000)
    assert a.confidence == "high" and "spilled over" in a.summary


def test_cold_starts_above_slo_propose_provisioned_concurrency() -> None:
    d = lam("cold")
    pts = steady(d.id, {"invocations_count": 100, "duration_sum_ms": 100 * 40.0, "cold_starts_count": 30,
                        "concurrency_max_count": 3}, hours=48)
    a = _one(_advice([d], pts), "warm_capacity")
    assert a.action == "raise" and a.proposed == "3 provisioned" and a.monthly_saving_usd < 0


def test_3008_mb_with_400_used_gets_a_smaller_size() -> None:
    d = lam("big", memory_mb=3008)
    pts = steady(d.id, {"invocations_count": 1000, "duration_sum_ms": 1000 * 100.0,
                        "memory_max_used_mb": 400}, hours=168)
    a = _one(_advice([d], pts), "memory")
    assert a.action == "resize" and a.proposed == "576 MB"  # 400 MB x 1.3 = 520 -> next multiple of 64
    gb_s_month = 1000 * 168 * 0.1 * 3008 / 1024 * SECONDS_PER_MONTH / WEEK_S
    assert a.monthly_saving_usd == pytest.approx(gb_s_month * 0.0000166667 * (1 - 576 / 3008))
    assert a.confidence == "low" and "CPU" in a.latency_effect


def test_memory_near_limit_is_an_oom_risk() -> None:
    d = lam("tight", memory_mb=512)
    pts = steady(d.id, {"invocations_count": 10, "duration_sum_ms": 500.0, "memory_max_used_mb": 480}, hours=24)
    a = _one(_advice([d], pts), "memory")
    assert a.action == "raise" and a.proposed == "640 MB" and "out-of-memory" in a.summary


def test_power_tuning_result_picks_the_cheapest_measured_size() -> None:
    d = lam("tuned", memory_mb=2048)
    pts = steady(d.id, {"invocations_count": 1000, "duration_sum_ms": 1000 * 50.0,
                        "memory_max_used_mb": 300}, hours=168)
    result = parse_power_tuning(json.dumps({"results": {"power": 1024, "cost": 1e-6, "duration": 60.0, "stats": [
        {"value": 512, "averagePrice": 1e-6, "averageDuration": 150.0},
        {"value": 1024, "averagePrice": 1e-6, "averageDuration": 60.0},
        {"value": 2048, "averagePrice": 2e-6, "averageDuration": 50.0}]}}))
    a = _one(_advice([d], pts, memory_options={d.id: result.memory_options()}), "memory")
    assert a.proposed == "1,024 MB" and a.confidence == "high"

    def per_inv(mb: float, ms: float) -> float:
        return ms / 1000 * mb / 1024 * 0.0000166667

    expected = (per_inv(2048, 50) - per_inv(1024, 60)) * 1000 * 168 * SECONDS_PER_MONTH / WEEK_S
    assert a.monthly_saving_usd == pytest.approx(expected)
    assert "+20%" in a.latency_effect


@pytest.mark.parametrize(("doc", "field"), [
    ("{", "<document>"), ('{"duration": 3}', "power"),
    ('{"power": 512, "stats": [{"value": 512, "averageDuration": -1}]}', "stats[0].averageDuration"),
])
def test_bad_power_tuning_json_names_the_field(doc: str, field: str) -> None:
    with pytest.raises(PowerTuningImportError) as info:
        parse_power_tuning(doc)
    assert info.value.field == field


def test_arm_x86_pair_gives_price_performance_change() -> None:
    x86 = lam("scorer-x86", service="scorer", memory_mb=1024)
    arm = lam("scorer-arm", service="scorer", memory_mb=1024, architecture="arm64")
    pts = steady(x86.id, {"invocations_count": 5000, "duration_sum_ms": 5000 * 100.0, "latency_p95_ms": 180},
                 hours=168)
    pts += steady(arm.id, {"invocations_count": 5000, "duration_sum_ms": 5000 * 110.0, "latency_p95_ms": 200},
                  hours=168)
    advice = _advice([x86, arm], pts)
    a = _one([x for x in advice if x.deployment == x86.id], "architecture")
    x86_inv = 2e-7 + 0.1 * 0.0000166667
    arm_inv = 2e-7 + 0.11 * 0.0000133334
    assert a.proposed == "arm64" and a.confidence == "high"
    assert f"{arm_inv / x86_inv - 1:+.0%}" in a.summary and "+10% duration" in a.summary
    assert a.monthly_saving_usd == pytest.approx((x86_inv - arm_inv) * 5000 * 168 * SECONDS_PER_MONTH / WEEK_S)
    assert "p95 180.0 ms -> 200.0 ms" in a.latency_effect
    assert not [x for x in advice if x.deployment == arm.id and x.kind == "architecture"]


def test_unmeasured_arm_switch_is_low_confidence() -> None:
    d = lam("solo")
    pts = steady(d.id, {"invocations_count": 10_000, "duration_sum_ms": 10_000 * 100.0}, hours=24)
    a = _one(_advice([d], pts), "architecture")
    assert a.confidence == "low" and a.summary.startswith("arm64 is 20% cheaper")


def test_cloud_run_idle_min_instances_show_their_cost() -> None:
    d = run("api", min_instances=2)
    pts = steady(d.id, {"invocations_count": 100, "billable_instance_s": 600, "instances_active_count": 0.2,
                        "instances_idle_count": 2.0}, hours=168)
    advice = _advice([d], pts)
    idle = _one(advice, "idle_cost")
    # 2 idle instances x 1 vCPU, 0.5 GiB at ($0.0000025 + 0.5 x $0.0000025) per second, for a month
    monthly = 2 * SECONDS_PER_MONTH * 0.00000375
    assert f"${monthly:,.2f}/month" in idle.summary
    warm = _one(advice, "warm_capacity")
    # 0.2 active instances on average: the baseline needs ceil(0.2) = 1 of the 2
    assert warm.action == "reduce" and warm.proposed == "min instances 1"
    assert warm.monthly_saving_usd == pytest.approx(monthly / 2)


def test_cloud_run_billing_mode_switches_to_the_cheaper() -> None:
    busy = run("steady", min_instances=1)
    pts = steady(busy.id, {"invocations_count": 500_000, "billable_instance_s": 3600,
                           "instances_active_count": 1.0, "instances_idle_count": 0.0}, hours=168)
    a = _one(_advice([busy], pts), "billing_mode")
    rb = 3600 * (0.000024 + 0.5 * 0.0000025) + 0.5 * 0.40
    ib = 3600 * (0.000018 + 0.5 * 0.000002)
    assert a.proposed == "instance-based"
    assert a.monthly_saving_usd == pytest.approx((rb - ib) * 168 * SECONDS_PER_MONTH / WEEK_S)


def test_cloud_run_concurrency_one_at_low_cpu() -> None:
    d = run("single", concurrency=1)
    pts = steady(d.id, {"invocations_count": 100, "billable_instance_s": 100, "instances_active_count": 1,
                        "cpu_utilization_p95_ratio": 0.15}, hours=24)
    a = _one(_advice([d], pts), "concurrency")
    assert a.proposed == "concurrency 4" and a.confidence == "low"


def test_top_advice_is_the_biggest_saving() -> None:
    d = lam("scorer", pc=10, memory_mb=3008)
    pts = steady(d.id, {"invocations_count": 3600, "duration_sum_ms": 3600 * 50.0, "memory_max_used_mb": 400,
                        "provisioned_concurrency_count": 10, "provisioned_utilization_ratio": 0.12}, hours=168)
    advice = _advice([d], pts)
    assert advice == sorted(advice, key=lambda a: -a.monthly_saving_usd)
    assert top_advice(advice)[d.id] is advice[0]
    assert all(a.as_dict()["evidence"] for a in advice)


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="target_utilization"):
        AdvicePolicy(target_utilization=0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 50), st.floats(0, 1), st.sampled_from([128, 1024, 3008]))
def test_reduced_level_never_exceeds_current_and_saving_is_finite(pc: int, util: float, memory: int) -> None:
    d = lam("p", pc=pc, memory_mb=memory)
    pts = steady(d.id, {"invocations_count": 10, "duration_sum_ms": 100.0, "provisioned_concurrency_count": pc,
                        "provisioned_utilization_ratio": util}, hours=24)
    for a in _advice([d], pts):
        if a.kind == "warm_capacity" and a.action in ("reduce", "scale_to_zero"):
            assert int(a.proposed.split()[0]) < pc
            assert a.monthly_saving_usd > 0
