"""Cost formulas against hand-computed examples from the published price pages."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costs.catalogue import load_catalogue
from costs.errors import PriceCatalogueError, UnknownPriceError
from costs.pricing import (
    cloud_run_cost,
    lambda_cost,
    lambda_monthly_duration_usd,
    min_instance_monthly_usd,
    provisioned_monthly_usd,
)

CAT = load_catalogue()
X86 = CAT.lambda_prices("x86_64")
ARM = CAT.lambda_prices("arm64")
TIER1 = CAT.cloud_run_tier("us-central1")


def test_catalogue_carries_source_and_date() -> None:
    for service, url, checked in CAT.sources:
        assert url.startswith("https://") and len(checked) == 10, service


def test_lambda_x86_on_demand_matches_hand_computation() -> None:
    # 1M requests x 120 ms at 1024 MB: $0.20 + 120,000 GB-s x $0.0000166667
    cost = lambda_cost(X86, memory_mb=1024, invocations=1_000_000, billed_duration_ms=1_000_000 * 120)
    assert cost.request_usd == pytest.approx(0.20)
    assert cost.compute_usd == pytest.approx(120_000 * 0.0000166667)
    assert cost.total_usd == pytest.approx(2.200004)
    assert cost.warm_capacity_usd == 0 and cost.idle_usd == 0


def test_lambda_arm_on_demand_matches_hand_computation() -> None:
    # 500k requests x 200 ms at 2048 MB: 200,000 GB-s x $0.0000133334 + $0.10
    cost = lambda_cost(ARM, memory_mb=2048, invocations=500_000, billed_duration_ms=500_000 * 200)
    assert cost.total_usd == pytest.approx(0.10 + 2.66668)


def test_lambda_x86_with_provisioned_concurrency() -> None:
    # PC 10 x 1 GB for one hour: 36,000 GB-s x $0.0000041667; 100k requests x 100 ms all on PC:
    # 10,000 GB-s x $0.0000097222; requests $0.02
    cost = lambda_cost(X86, memory_mb=1024, invocations=100_000, billed_duration_ms=100_000 * 100,
                       provisioned_concurrency=10, period_s=3600, provisioned_share=1.0,
                       provisioned_utilization=0.25)
    assert cost.warm_capacity_usd == pytest.approx(0.1500012)
    assert cost.compute_usd == pytest.approx(0.097222)
    assert cost.total_usd == pytest.approx(0.1500012 + 0.097222 + 0.02)
    assert cost.idle_usd == pytest.approx(0.1500012 * 0.75)


def test_lambda_arm_with_provisioned_concurrency_and_spillover() -> None:
    # PC 4 x 0.5 GB for 1 h = 7,200 GB-s x $0.0000033334; 10,000 GB-s of duration, 80% on PC
    cost = lambda_cost(ARM, memory_mb=512, invocations=200_000, billed_duration_ms=200_000 * 100,
                       provisioned_concurrency=4, period_s=3600, provisioned_share=0.8)
    assert cost.warm_capacity_usd == pytest.approx(7_200 * 0.0000033334)
    assert cost.compute_usd == pytest.approx(10_000 * (0.8 * 0.0000077778 + 0.2 * 0.0000133334))


def test_lambda_init_is_billed_at_duration_rate() -> None:
    cost = lambda_cost(X86, memory_mb=2048, invocations=0, billed_duration_ms=0, init_ms=10_000)
    assert cost.init_usd == pytest.approx(20 * 0.0000166667)


def test_volume_tiers() -> None:
    assert lambda_monthly_duration_usd(X86, 1e9) == pytest.approx(1e9 * 0.0000166667)
    expected = 6e9 * 0.0000166667 + 4e9 * 0.000015
    assert lambda_monthly_duration_usd(X86, 10e9) == pytest.approx(expected)
    expected = 6e9 * 0.0000166667 + 9e9 * 0.000015 + 5e9 * 0.0000133334
    assert lambda_monthly_duration_usd(X86, 20e9) == pytest.approx(expected)
    assert lambda_monthly_duration_usd(ARM, 0) == 0


def test_cloud_run_request_based_matches_hand_computation() -> None:
    # 1 vCPU, 512 MiB, 10,000 instance-s, 1M requests: $0.24 + $0.0125 + $0.40
    cost = cloud_run_cost(TIER1, billing_mode="request", vcpu=1, memory_mb=512, requests=1_000_000,
                          serving_instance_s=10_000)
    assert cost.total_usd == pytest.approx(0.6525)


def test_cloud_run_instance_based_matches_hand_computation() -> None:
    # 2 vCPU, 1 GiB, a whole day, no request fee: 2 x 86,400 x $0.000018 + 86,400 x $0.000002
    cost = cloud_run_cost(TIER1, billing_mode="instance", vcpu=2, memory_mb=1024, requests=1_000_000,
                          serving_instance_s=86_400)
    assert cost.request_usd == 0
    assert cost.total_usd == pytest.approx(3.1104 + 0.1728)


def test_cloud_run_idle_min_instance() -> None:
    cost = cloud_run_cost(TIER1, billing_mode="request", vcpu=1, memory_mb=512, requests=0,
                          serving_instance_s=0, idle_instance_s=86_400)
    assert cost.warm_capacity_usd == pytest.approx(86_400 * (0.0000025 + 0.5 * 0.0000025))
    assert cost.idle_usd == cost.warm_capacity_usd
    monthly = min_instance_monthly_usd(TIER1, billing_mode="request", vcpu=1, memory_mb=512)
    assert monthly == pytest.approx(730 * 3600 * 0.00000375)


def test_tier2_region_costs_more() -> None:
    tier2 = CAT.cloud_run_tier("southamerica-east1")
    assert tier2.request_based.vcpu_usd_per_s > TIER1.request_based.vcpu_usd_per_s


def test_provisioned_monthly() -> None:
    assert provisioned_monthly_usd(X86, level=2, memory_mb=1024) == pytest.approx(2 * 730 * 3600 * 0.0000041667)


def test_override_is_merged_and_validated() -> None:
    cat = load_catalogue({"aws_lambda": {"architectures": {"x86_64": {"request_usd_per_million": 0.25}}}})
    assert cat.lambda_prices("x86_64").request_usd_per_million == 0.25
    assert cat.lambda_prices("x86_64").duration_usd_per_gb_s == X86.duration_usd_per_gb_s


def test_regional_override() -> None:
    cat = load_catalogue({"aws_lambda": {"regions": {"af-south-1": {"x86_64": {"provisioned_usd_per_gb_s": 1e-5}}}}})
    assert cat.lambda_prices("x86_64", "af-south-1").provisioned_usd_per_gb_s == 1e-5
    assert cat.lambda_prices("x86_64", "us-east-1") == X86


@pytest.mark.parametrize(("overrides", "field"), [
    ({"azure": {}}, "prices.azure"),
    ({"aws_lambda": {"architectures": {"arm64": {"request_usd_per_million": -1}}}},
     "prices.aws_lambda.architectures.arm64.request_usd_per_million"),
    ({"gcp_cloud_run": {"tiers": {"tier1": {"instance_based": {"cpu": 1}}}}},
     "prices.gcp_cloud_run.tiers.tier1.instance_based.cpu"),
    ({"aws_lambda": {"architectures": {"x86_64": {"duration_tiers": [{"up_to_gb_s": 5, "usd_per_gb_s": 1}]}}}},
     "prices.aws_lambda.architectures.x86_64"),
    ({"aws_lambda": {"regions": {"eu-south-1": {"x86_64": {"request_usd_per_million": "cheap"}}}}},
     "prices.aws_lambda.regions.eu-south-1.x86_64"),
])
def test_bad_override_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(PriceCatalogueError) as info:
        load_catalogue(overrides)
    assert info.value.field == field
    assert field in str(info.value)


def test_unknown_architecture() -> None:
    with pytest.raises(UnknownPriceError):
        CAT.lambda_prices("riscv")


def test_negative_quantity_is_rejected() -> None:
    with pytest.raises(ValueError, match="invocations"):
        lambda_cost(X86, memory_mb=128, invocations=-1, billed_duration_ms=0)
    with pytest.raises(ValueError, match="billing_mode"):
        cloud_run_cost(TIER1, billing_mode="free", vcpu=1, memory_mb=512, requests=0, serving_instance_s=0)


quantity = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)


@given(quantity, quantity, st.sampled_from([128, 512, 1769, 3008, 10240]), st.floats(0, 1))
def test_lambda_cost_is_finite_non_negative_and_monotone(inv: float, dur: float, mem: int, share: float) -> None:
    base = lambda_cost(X86, memory_mb=mem, invocations=inv, billed_duration_ms=dur, provisioned_share=share)
    more = lambda_cost(X86, memory_mb=mem, invocations=inv + 1, billed_duration_ms=dur + 1, provisioned_share=share)
    assert math.isfinite(base.total_usd) and base.total_usd >= 0
    assert more.total_usd >= base.total_usd
    assert lambda_cost(ARM, memory_mb=mem, invocations=inv, billed_duration_ms=dur).total_usd <= \
        lambda_cost(X86, memory_mb=mem, invocations=inv, billed_duration_ms=dur).total_usd + 1e-12


@given(st.floats(0, 1e11), st.floats(0, 1e11))
def test_tiered_cost_is_monotone_and_below_first_tier(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert lambda_monthly_duration_usd(X86, lo) <= lambda_monthly_duration_usd(X86, hi) + 1e-6
    assert lambda_monthly_duration_usd(X86, hi) <= hi * X86.duration_usd_per_gb_s * (1 + 1e-12)
