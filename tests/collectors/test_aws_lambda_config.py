"""Lambda configuration over moto; provisioned concurrency through botocore's Stubber (moto 5.2.5
has no route for it: HTTP 404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from collectors.aws_lambda_config import (
    ConfigCache,
    LambdaConfigReader,
    build_deployments,
    provisioned_points,
)
from collectors.errors import ProviderDataError, ProviderThrottledError
from inferwatch.schema import Metric
from tests.collectors.aws_standin import ACCOUNT, REGION, boto_client, make_function, shared


def test_versions_aliases_weights_and_reserved_concurrency_from_moto() -> None:
    _, door = shared()
    fn = "cfg-basic"
    make_function(door.endpoint, fn, memory_mb=1024, arch="arm64", timeout_s=15, versions=2,
                  aliases={"live": "1", "canary": "2"}, reserved=7, weights={"live": {"2": 0.1}})
    reader = LambdaConfigReader(boto_client("lambda", door.endpoint))
    config = reader.fetch(fn)
    assert set(config.versions) == {"$LATEST", "1", "2"}
    assert config.versions["1"].memory_mb == 1024 and config.versions["1"].architecture == "arm64"
    assert config.versions["1"].timeout_s == 15
    assert config.aliases["live"].routing() == pytest.approx({"1": 0.9, "2": 0.1})
    assert config.reserved_concurrency == 7 and config.provisioned == {}
    assert config.version_of("canary") == "2" and config.version_of("2") == "2"
    deps = build_deployments(REGION, config, ["live", "2"], service="scoring")
    assert [d.id for d in deps] == [f"aws:{REGION}:{fn}", f"aws:{REGION}:{fn}:live", f"aws:{REGION}:{fn}:2"]
    assert all(d.service == "scoring" and d.max_instances == 7 and d.memory_mb == 1024 for d in deps)
    assert deps[1].labels["routing"] == "1=0.9,2=0.1" and deps[1].labels["version"] == "1"
    assert reader.calls == 4


def test_paging_on_marker() -> None:
    # Stubber: moto does not page ListAliases; the real model checks Marker is sent back.
    client = boto_client("lambda", shared()[1].endpoint)
    with Stubber(client) as stub:
        stub.add_response("list_versions_by_function", {"Versions": []}, {"FunctionName": "f"})
        stub.add_response("list_aliases", {"Aliases": [{"Name": "a", "FunctionVersion": "1"}], "NextMarker": "m1"},
                          {"FunctionName": "f"})
        stub.add_response("list_aliases", {"Aliases": [{"Name": "b", "FunctionVersion": "2"}]},
                          {"FunctionName": "f", "Marker": "m1"})
        stub.add_response("get_function_concurrency", {}, {"FunctionName": "f"})
        stub.add_response("list_provisioned_concurrency_configs", {"ProvisionedConcurrencyConfigs": []},
                          {"FunctionName": "f"})
        config = LambdaConfigReader(client).fetch("f")
    assert set(config.aliases) == {"a", "b"} and config.reserved_concurrency is None


def test_provisioned_concurrency_via_stubber() -> None:
    # Stubber because moto 5.2.5 lacks ListProvisionedConcurrencyConfigs (HTTP 404).
    client = boto_client("lambda", shared()[1].endpoint)
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pc"
    version = {"FunctionName": "pc", "Version": "3", "MemorySize": 2048, "Timeout": 10, "Architectures": ["x86_64"]}
    with Stubber(client) as stub:
        stub.add_response("list_versions_by_function", {"Versions": [{**version, "Version": "$LATEST"}, version]},
                          {"FunctionName": "pc"})
        stub.add_response("list_aliases", {"Aliases": [{"Name": "live", "FunctionVersion": "3"}]},
                          {"FunctionName": "pc"})
        stub.add_response("get_function_concurrency", {"ReservedConcurrentExecutions": 50}, {"FunctionName": "pc"})
        stub.add_response("list_provisioned_concurrency_configs", {"ProvisionedConcurrencyConfigs": [
            {"FunctionArn": f"{arn}:live", "RequestedProvisionedConcurrentExecutions": 5,
             "AllocatedProvisionedConcurrentExecutions": 4, "AvailableProvisionedConcurrentExecutions": 4,
             "Status": "IN_PROGRESS", "LastModified": "2026-11-24T00:00:00+0000"}]}, {"FunctionName": "pc"})
        config = LambdaConfigReader(client).fetch("pc")
    assert config.provisioned == {"live": 4}  # allocated, not requested: what is warm now
    whole, live = build_deployments(REGION, config, ["live"])
    assert live.provisioned_concurrency == 4 and whole.provisioned_concurrency == 4
    t0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    points = provisioned_points([whole, live], [t0, t0 + timedelta(minutes=1)], 60)
    assert {(p.deployment, p.metric, p.value) for p in points} == {
        (whole.id, Metric.PROVISIONED_CONCURRENCY, 4.0), (live.id, Metric.PROVISIONED_CONCURRENCY, 4.0)}
    assert len(points) == 4


def test_unknown_function_is_a_data_error() -> None:
    reader = LambdaConfigReader(boto_client("lambda", shared()[1].endpoint))
    with pytest.raises(ProviderDataError, match="ResourceNotFoundException") as info:
        reader.fetch("cfg-does-not-exist")
    assert isinstance(info.value.__cause__, ClientError)


def test_lambda_throttling_shape_is_retried_then_translated() -> None:
    _, door = shared()
    make_function(door.endpoint, "cfg-throttled")
    plan = door.inject(every=1)  # every call throttled: botocore gives up after total_max_attempts
    try:
        with pytest.raises(ProviderThrottledError) as info:
            LambdaConfigReader(boto_client("lambda", door.endpoint)).fetch("cfg-throttled")
    finally:
        door.reset()
    assert plan.injected == 2  # the seeding client allows 2 attempts in all
    assert info.value.retry_after_s == 1.0


def test_config_cache_rereads_after_max_age() -> None:
    _, door = shared()
    make_function(door.endpoint, "cfg-cached", memory_mb=256)
    clock = [0.0]
    cache = ConfigCache(max_age_s=600, clock=lambda: clock[0], spread=0.0)
    reader = LambdaConfigReader(boto_client("lambda", door.endpoint))
    first = cache.get(reader, "cfg-cached")
    clock[0] = 599.0
    assert cache.get(reader, "cfg-cached") is first and reader.calls == 4
    boto_client("lambda", door.endpoint).update_function_configuration(FunctionName="cfg-cached", MemorySize=1024)
    clock[0] = 600.0
    assert cache.get(reader, "cfg-cached").versions["$LATEST"].memory_mb == 1024 and reader.calls == 8
