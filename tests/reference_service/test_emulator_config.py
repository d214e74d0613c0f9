"""Emulator configuration and traffic routing (pure, no processes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_service.emulator import ConfigError, DeploymentConfig, FaultConfig, ServiceConfig
from reference_service.emulator.config import check_services, normalize_weights
from reference_service.emulator.router import TrafficRouter


def _service(weights: dict[str, float] | None = None) -> ServiceConfig:
    return ServiceConfig("scorer", (DeploymentConfig("blue"), DeploymentConfig("green", model_version="v2")),
                         weights=weights or {})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"model_version": "v9"}, "model_version"),
        ({"role": "primary"}, "role"),
        ({"memory_mb": 8}, "memory_mb"),
        ({"timeout_s": math.nan}, "timeout_s"),
        ({"concurrency": 0}, "concurrency"),
        ({"min_instances": -1}, "min_instances"),
        ({"min_instances": 3, "max_instances": 2}, "min_instances"),
        ({"keep_alive_s": -1.0}, "keep_alive_s"),
        ({"shadow_version": "v3"}, "shadow_version"),
        ({"batch_max_rows": 0}, "batch_max_rows"),
        ({"concurrency": True}, "concurrency"),
    ],
)
def test_bad_deployment_values_name_the_field(kwargs: dict[str, object], field: str) -> None:
    kwargs = {"name": "scorer-v1", **kwargs}
    with pytest.raises(ConfigError) as info:
        DeploymentConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_bad_faults_name_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        FaultConfig(error_rate=1.5)
    assert info.value.field == "faults.error_rate"
    with pytest.raises(ConfigError) as info:
        FaultConfig(extra_env={"PATH": "/"})
    assert info.value.field == "faults.extra_env"


def test_instance_env_carries_the_contract_variables() -> None:
    config = DeploymentConfig("scorer-v2", model_version="v2", role="canary", memory_mb=256, timeout_s=3,
                              concurrency=8, shadow_version="v1", faults=FaultConfig(slow_rate=0.5, slow_ms=40))
    env = config.instance_env()
    assert env["INFERWATCH_DEPLOYMENT"] == "scorer-v2"
    assert env["INFERWATCH_MODEL_VERSION"] == "v2"
    assert env["INFERWATCH_ROLE"] == "canary"
    assert env["INFERWATCH_MEMORY_MB"] == "256"
    assert float(env["INFERWATCH_TIMEOUT_S"]) == 3.0
    assert env["INFERWATCH_CONCURRENCY"] == "8"
    assert env["INFERWATCH_SHADOW_VERSION"] == "v1"
    assert float(env["INFERWATCH_FAULT_SLOW_RATE"]) == 0.5
    assert float(env["INFERWATCH_FAULT_SLOW_MS"]) == 40.0
    assert "INFERWATCH_FAULT_ERROR_RATE" not in env


def test_service_weights_default_to_the_first_deployment_and_are_normalized() -> None:
    assert dict(_service().weights) == {"blue": 1.0, "green": 0.0}
    assert dict(_service({"blue": 9, "green": 1}).weights) == pytest.approx({"blue": 0.9, "green": 0.1})


@pytest.mark.parametrize(
    ("weights", "field"),
    [({"red": 1.0}, "scorer.weights.red"), ({"blue": -1.0}, "scorer.weights.blue"),
     ({"blue": 0.0, "green": 0.0}, "scorer.weights"), ({"blue": math.inf}, "scorer.weights.blue")],
)
def test_bad_weights_name_the_field(weights: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        _service(weights)
    assert info.value.field == field


def test_duplicate_names_across_services_are_refused() -> None:
    a = ServiceConfig("a", (DeploymentConfig("shared"),))
    b = ServiceConfig("b", (DeploymentConfig("shared"),))
    with pytest.raises(ConfigError, match="two services"):
        check_services([a, b])
    with pytest.raises(ConfigError, match="duplicate service"):
        check_services([a, a])
    with pytest.raises(ConfigError, match="at least one"):
        check_services([])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.floats(0, 1e6), min_size=1))
def test_normalized_weights_sum_to_one_and_keep_proportions(weights: dict[str, float]) -> None:
    if sum(weights.values()) <= 0:
        with pytest.raises(ConfigError):
            normalize_weights(weights, ("a", "b", "c"), "w")
        return
    normalized = normalize_weights(weights, ("a", "b", "c"), "w")
    assert sum(normalized.values()) == pytest.approx(1.0)
    assert all(v >= 0 for v in normalized.values())
    total = sum(weights.values())
    for name, weight in weights.items():
        assert normalized[name] == pytest.approx(weight / total)


def _binomial_ok(hits: int, n: int, p: float, z: float = 4.5) -> bool:
    """|hits - n p| within z binomial standard deviations (z = 4.5: false alarm < 1e-5)."""
    return abs(hits - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1


@settings(max_examples=15, deadline=None)
@given(st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_router_share_is_within_a_binomial_bound(weight: float, seed: int) -> None:
    router = TrafficRouter(_service(), np.random.default_rng(seed))
    router.canary("green", weight)
    n = 2500
    hits = sum(router.choose() == "green" for _ in range(n))
    assert _binomial_ok(hits, n, weight)
    assert router.routed_counts["green"] == hits
    if weight == 0.0:
        assert hits == 0
    if weight == 1.0:
        assert hits == n


def test_blue_green_switch_and_rollback_are_immediate() -> None:
    router = TrafficRouter(_service(), np.random.default_rng(1))
    assert {router.choose() for _ in range(200)} == {"blue"}
    router.promote("green")
    assert {router.choose() for _ in range(200)} == {"green"}
    router.rollback()
    assert {router.choose() for _ in range(200)} == {"blue"}
    with pytest.raises(ConfigError, match="no earlier"):
        router.rollback()


def test_canary_steps_keep_the_rest_on_the_others() -> None:
    service = ServiceConfig("s", (DeploymentConfig("a"), DeploymentConfig("b"), DeploymentConfig("c")),
                            weights={"a": 3, "b": 1})
    router = TrafficRouter(service, np.random.default_rng(0))
    assert dict(router.canary("c", 0.2)) == pytest.approx({"a": 0.6, "b": 0.2, "c": 0.2})
    assert dict(router.canary("c", 0.6)) == pytest.approx({"a": 0.3, "b": 0.1, "c": 0.6})
    assert dict(router.canary("c", 1.0)) == pytest.approx({"a": 0.0, "b": 0.0, "c": 1.0})
    assert dict(router.canary("c", 0.5)) == pytest.approx({"a": 0.25, "b": 0.25, "c": 0.5})
    with pytest.raises(ConfigError) as info:
        router.canary("c", 1.5)
    assert info.value.field == "s.canary.weight"
    with pytest.raises(ConfigError):
        router.canary("z", 0.1)
