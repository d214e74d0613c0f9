"""The deployment projection (`inferwatch profile`'s arithmetic), checked against numbers worked out by hand
from the catalogue's list prices: us-east-1 Lambda x86_64 $0.0000166667/GB-s and $0.20 per million
requests, arm64 $0.0000133334/GB-s; Cloud Run tier 1 request-based $0.000024/vCPU-s, $0.0000025/GiB-s and
$0.40 per million, instance-based $0.000018/vCPU-s and $0.000002/GiB-s; a month of 730 h."""

from __future__ import annotations

import pytest

from costs.catalogue import load_catalogue
from costs.errors import ProjectionInputError
from costs.lambda_cpu import lambda_vcpus, single_thread_slowdown
from costs.projection import MeasuredProfile, ProjectionSettings, project
from costs.projection_cloud_run import concurrency_for
from costs.projection_lambda import lambda_option
from costs.projection_model import stretched_ms

CATALOGUE = load_catalogue()
MONTH_S = 730 * 3600
PROFILE = MeasuredProfile(init_ms=1000.0, first_inference_ms=10.0, peak_memory_mb=100.0, p50_ms=4.0, p95_ms=8.0,
                          mean_ms=5.0, cpu_fraction=1.0, throughput_rps=200.0)
SETTINGS = ProjectionSettings(rps=1.0, slo_p95_ms=100.0)


def test_lambda_cpu_share_is_memory_over_1769_mb_up_to_6_vcpus() -> None:
    assert lambda_vcpus(1769) == 1.0
    assert lambda_vcpus(512) == pytest.approx(512 / 1769)
    assert lambda_vcpus(10240) == pytest.approx(10240 / 1769)  # 5.79: the cap of 6 is not reached
    assert single_thread_slowdown(3008) == 1.0  # single-threaded work gets no faster above one vCPU
    assert single_thread_slowdown(128) == pytest.approx(1769 / 128)
    with pytest.raises(ValueError):
        lambda_vcpus(0)


def test_only_the_cpu_part_of_a_latency_stretches() -> None:
    assert stretched_ms(8.0, 1.0, 3.0) == 24.0
    assert stretched_ms(8.0, 0.5, 3.0) == 4.0 + 12.0
    assert stretched_ms(8.0, 0.0, 3.0) == 8.0


def test_lambda_at_one_vcpu_by_hand() -> None:
    o = lambda_option(PROFILE, SETTINGS, CATALOGUE, architecture="x86_64", memory_mb=1769)
    requests = 1.0 * MONTH_S  # 2,628,000
    gb = 1769 / 1024
    assert (o.p50_ms, o.p95_ms, o.cold_start_ms) == (4.0, 8.0, 1010.0)
    assert o.monthly.request_usd == pytest.approx(requests * 0.20 / 1e6)  # $0.5256
    assert o.monthly.compute_usd == pytest.approx(requests * 0.005 * gb * 0.0000166667)  # $0.3783
    # 1% of the requests meet a cold start; each bills its 1 s INIT phase (the 2025-08-01 rule)
    assert o.monthly.init_usd == pytest.approx(requests * 0.01 * 1.0 * gb * 0.0000166667)  # $0.7567
    assert o.monthly_usd == pytest.approx(0.5256 + 0.378332 + 0.756663, abs=1e-4)
    assert o.concurrent_environments == pytest.approx(1.0 * 0.005)
    assert o.fits_memory and o.meets_slo


def test_lambda_below_one_vcpu_stretches_latency_and_init_by_hand() -> None:
    o = lambda_option(PROFILE, SETTINGS, CATALOGUE, architecture="x86_64", memory_mb=512)
    slowdown = 1769 / 512  # 3.455
    assert o.p95_ms == pytest.approx(8.0 * slowdown)  # 27.64 ms
    assert o.cold_start_ms == pytest.approx(1010.0 * slowdown)
    billed_ms = 18  # the mean, 5 x 3.455 = 17.27 ms, rounded up to 1 ms
    assert o.monthly.compute_usd == pytest.approx(MONTH_S * billed_ms / 1000 * 0.5 * 0.0000166667)
    half_cpu = MeasuredProfile(1000.0, 10.0, 100.0, 4.0, 8.0, 5.0, 0.5, 200.0)
    o = lambda_option(half_cpu, SETTINGS, CATALOGUE, architecture="x86_64", memory_mb=512)
    assert o.p95_ms == pytest.approx(4.0 + 4.0 * slowdown)  # the half that waits does not stretch


def test_arm64_is_cheaper_per_gb_second_and_its_factor_is_applied() -> None:
    for memory in (128, 1024, 1769, 4096):
        x86 = lambda_option(PROFILE, SETTINGS, CATALOGUE, architecture="x86_64", memory_mb=memory)
        arm = lambda_option(PROFILE, SETTINGS, CATALOGUE, architecture="arm64", memory_mb=memory)
        assert arm.monthly.compute_usd == pytest.approx(x86.monthly.compute_usd * 0.0000133334 / 0.0000166667)
        assert arm.monthly_usd < x86.monthly_usd
    slower = ProjectionSettings(rps=1.0, slo_p95_ms=100.0, arm64_factor=1.2)
    arm = lambda_option(PROFILE, slower, CATALOGUE, architecture="arm64", memory_mb=1769)
    assert arm.p95_ms == pytest.approx(9.6)


def test_the_choice_is_the_cheapest_size_meeting_the_slo_and_holding_the_model() -> None:
    tight = ProjectionSettings(rps=1.0, slo_p95_ms=10.0)  # 8 ms x 1769/m <= 10 ms: m >= 1,416 MB
    p = project(PROFILE, tight, CATALOGUE)
    chosen = p.lambda_choices["x86_64"]
    assert chosen is not None and chosen.meets_slo and chosen.memory_mb == 1769
    # 1,536 MB also meets it (9.21 ms) but bills 6 ms x 1,536 MB against 5 ms x 1,769 MB
    at_1536 = next(o for o in p.lambda_options if o.architecture == "x86_64" and o.memory_mb == 1536)
    assert at_1536.meets_slo and at_1536.monthly_usd > chosen.monthly_usd
    assert all(o.monthly_usd >= chosen.monthly_usd for o in p.lambda_options
               if o.architecture == "x86_64" and o.meets_slo and o.fits_memory)
    assert 192 in {o.memory_mb for o in p.lambda_options}  # 100 MB + 30% rounded up to 64 MB: offered too
    big = MeasuredProfile(1000.0, 10.0, 900.0, 4.0, 8.0, 5.0, 1.0, 200.0)
    chosen = project(big, SETTINGS, CATALOGUE).lambda_choices["arm64"]
    assert chosen is not None and chosen.memory_mb >= 900 * 1.3


def test_a_cold_start_limit_rules_out_the_small_sizes() -> None:
    # a 0.05 ms request bills 1 ms at any size: the request fee and INIT (the same GB-s at any size below one
    # vCPU) make the month's cost, and 256 MB is the fastest within 1% of the cheapest, with a 6.9 s cold start
    tiny = MeasuredProfile(1000.0, 1.0, 100.0, 0.04, 0.1, 0.05, 1.0, 10_000.0)
    loose = project(tiny, SETTINGS, CATALOGUE).lambda_choices["x86_64"]
    assert loose is not None and loose.memory_mb == 256
    assert loose.cold_start_ms == pytest.approx(1001.0 * 1769 / 256)
    limited = project(tiny, ProjectionSettings(rps=1.0, slo_p95_ms=100.0, max_cold_start_ms=2_000.0), CATALOGUE)
    chosen = limited.lambda_choices["x86_64"]
    assert chosen is not None and chosen.meets_slo and chosen.cold_start_ms <= 2_000.0
    # 1,001 ms x 1,769 / m <= 2,000 ms: at least 886 MB, so 1,024 MB of the ladder
    assert chosen.memory_mb == 1024
    assert not next(o for o in limited.lambda_options if o.memory_mb == 512 and o.architecture == "x86_64").meets_slo
    assert "at most 2000 ms (--max-cold-start-ms)" in " ".join(limited.model)


def test_when_no_size_meets_the_slo_the_fastest_is_named_and_says_so() -> None:
    p = project(PROFILE, ProjectionSettings(rps=1.0, slo_p95_ms=5.0), CATALOGUE)
    chosen = p.lambda_choices["x86_64"]
    assert chosen is not None and not chosen.meets_slo and chosen.p95_ms == 8.0
    huge = MeasuredProfile(1000.0, 10.0, 20_000.0, 4.0, 8.0, 5.0, 1.0, 200.0)
    p = project(huge, SETTINGS, CATALOGUE)
    assert p.lambda_choices == {"x86_64": None, "arm64": None} and p.cloud_run_choice is None


def test_cloud_run_both_billing_modes_by_hand() -> None:
    p = project(PROFILE, SETTINGS, CATALOGUE)
    one = next(o for o in p.cloud_run_options if o.vcpu == 1.0)
    assert (one.memory_mb, one.instances, one.concurrency) == (512, 1, 12)  # floor(100 ms / 8 ms) in flight
    # request-based: each request bills 5 ms rounded up to 100 ms; 1 vCPU and 0.5 GiB
    assert one.request_based.compute_usd == pytest.approx(MONTH_S * 0.1 * (0.000024 + 0.5 * 0.0000025))  # $6.64
    assert one.request_based.request_usd == pytest.approx(MONTH_S * 0.40 / 1e6)  # $1.05
    # instance-based: the one instance all month, no request fee
    assert one.instance_based.total_usd == pytest.approx(MONTH_S * (0.000018 + 0.5 * 0.000002))  # $49.93
    assert p.cloud_run_choice is not None
    assert (p.cloud_run_choice.option.vcpu, p.cloud_run_choice.billing_mode) == (1.0, "request")
    busy = project(PROFILE, ProjectionSettings(rps=500.0, slo_p95_ms=100.0), CATALOGUE)
    four = next(o for o in busy.cloud_run_options if o.vcpu == 4.0)
    assert four.instances == 2 and four.memory_mb == 2048  # 500 / (4 x 200 x 60%) = 1.04; 512 MiB per vCPU


def test_concurrency_shares_vcpus_within_the_slo() -> None:
    assert concurrency_for(8.0, 1.0, 100.0, 80) == 12
    assert concurrency_for(8.0, 2.0, 100.0, 80) == 25
    assert concurrency_for(0.05, 1.0, 100.0, 80) == 80
    assert concurrency_for(200.0, 4.0, 100.0, 80) == 4  # over the SLO anyway: one request per vCPU


def test_the_model_behind_it_is_stated_with_its_numbers() -> None:
    text = " ".join(project(PROFILE, ProjectionSettings(rps=2.5, slo_p95_ms=50.0, arm64_factor=1.15),
                            CATALOGUE).model)
    for part in ("1,769 MB", "up to 6", "single-threaded", "2025-08-01", "1.0% of requests", "1.15x",
                 "2.5 requests/s", "50 ms", "100 MB", "100 ms"):
        assert part in text, part


@pytest.mark.parametrize(("field", "kwargs"), [
    ("--rps", {"rps": 0.0}), ("--slo-ms", {"slo_p95_ms": float("nan")}), ("--arm64-factor", {"arm64_factor": -1.0}),
    ("--cold-start-share", {"cold_start_share": 1.5}), ("--headroom", {"memory_headroom": -0.1}),
    ("--target-utilization", {"target_utilization": 0.0}), ("--max-cold-start-ms", {"max_cold_start_ms": 0.0}),
 ("lambda_memory_mb", {"lambda_memory_mb": (64,)}),
])
def test_bad_settings_name_their_option(field: str, kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"rps": 1.0, "slo_p95_ms": 100.0}
    with pytest.raises(ProjectionInputError) as info:
        ProjectionSettings(**{**base, **kwargs})  # type: ignore[arg-type]
    assert info.value.field == field and field in str(info.value)
