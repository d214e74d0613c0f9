"""Client settings from config and environment, grouping into collectors, assumed roles, retries
counted by ``total_max_attempts``, and error translation."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from collectors.aws import from_settings
from collectors.aws_client import AwsClients, ClientSettings, action_name, translate_error
from collectors.aws_lambda_config import LambdaConfigReader
from collectors.base import CollectorContext
from collectors.errors import (
    ProviderAuthError,
    ProviderDataError,
    ProviderThrottledError,
    ProviderUnavailableError,
)
from collectors.registry import PROVIDERS
from inferwatch.config import AwsDeploymentConfig, parse_settings
from tests.collectors.aws_standin import ACCOUNT, REGION, TEST_ENV, make_function, shared


@pytest.fixture()
def door() -> Iterator[Any]:
    _, front = shared()
    front.reset()
    yield front
    front.reset()


def aws_cfg(**extra: Any) -> AwsDeploymentConfig:
    return AwsDeploymentConfig(provider="aws", region=REGION, function="f", **extra)


def ctx(env: dict[str, str] | None = None) -> CollectorContext:
    return CollectorContext(home=Path("/nonexistent"), env=TEST_ENV if env is None else env,
                            endpoints={"aws": shared()[1].endpoint})


def test_settings_from_config_and_env() -> None:
    s = ClientSettings.from_config(aws_cfg(profile="prod"), ctx({**TEST_ENV, "INFERWATCH_AWS_RETRY_MODE": "adaptive"}))
    assert (s.region, s.profile, s.retry_mode, s.max_attempts) == (REGION, "prod", "adaptive", 6)
    assert s.endpoint_url == shared()[1].endpoint
    assert "testing" not in repr(s)  # credentials never in a repr or a log line


@pytest.mark.parametrize(("name", "value"), [("INFERWATCH_AWS_RETRY_MODE", "legacy"),
                                             ("INFERWATCH_AWS_MAX_ATTEMPTS", "0"),
                                             ("INFERWATCH_AWS_MAX_ATTEMPTS", "many")])
def test_bad_retry_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ProviderDataError, match=name):
        ClientSettings.from_config(aws_cfg(), ctx({name: value}))


def test_one_collector_per_account_and_region() -> None:
    settings = parse_settings({"deployments": [
        {"provider": "aws", "region": "eu-west-1", "function": "a"},
        {"provider": "aws", "region": "eu-west-1", "function": "b"},
        {"provider": "aws", "region": "us-east-1", "function": "c"},
        {"provider": "aws", "region": "eu-west-1", "function": "d", "profile": "other"},
    ]})
    collectors = from_settings(settings, ctx())
    assert sorted((c.name, tuple(x.function for x in c.configs)) for c in collectors) == [
        ("aws:default:eu-west-1", ("a", "b")), ("aws:default:us-east-1", ("c",)), ("aws:other:eu-west-1", ("d",))]
    assert "aws" in PROVIDERS


def test_assumed_role_credentials_are_used(door: Any) -> None:
    make_function(door.endpoint, "clients-role")
    door.reset()
    role = f"arn:aws:iam::{ACCOUNT}:role/inferwatch-reader"
    clients = AwsClients(ClientSettings.from_config(aws_cfg(role_arn=role), ctx()))
    config = LambdaConfigReader(clients.client("lambda")).fetch("clients-role")
    assert "$LATEST" in config.versions
    assert door.actions()[0] == "sts:AssumeRole" and "sts:GetCallerIdentity" not in door.actions()
    from_settings_name = from_settings(parse_settings({"deployments": [
        {"provider": "aws", "region": REGION, "function": "x", "role_arn": role}]}), ctx())[0].name
    assert from_settings_name == f"aws:inferwatch-reader@{ACCOUNT}:{REGION}"


def test_accounts_read_through_one_role_name_are_separate_units() -> None:
    settings = parse_settings({"deployments": [
        {"provider": "aws", "region": REGION, "function": f"fn-{account}",
         "role_arn": f"arn:aws:iam::{account}:role/org/inferwatch-reader"}
        for account in ("111111111111", "222222222222")]})
    names = sorted(c.name for c in from_settings(settings, ctx()))
    assert names == [f"aws:inferwatch-reader@111111111111:{REGION}", f"aws:inferwatch-reader@222222222222:{REGION}"]


def test_one_assumed_role_serves_every_client_of_the_account(door: Any) -> None:
    door.reset()
    role = f"arn:aws:iam::{ACCOUNT}:role/inferwatch-reader"
    clients = AwsClients(ClientSettings.from_config(aws_cfg(role_arn=role), ctx()))
    for service in ("lambda", "logs", "cloudwatch", "ce", "sts"):
        clients.client(service)
    assert door.actions() == ["sts:AssumeRole"]


MEMORY_PROBE = """
import os, sys
from collectors.aws_client import AwsClients, ClientSettings
def rss_mb():
    return int(open(f"/proc/{os.getpid()}/status").read().split("VmRSS:")[1].split()[0]) / 1024
units = []
for i in range(11):
    clients = AwsClients(ClientSettings(region="eu-west-1", endpoint_url="http://127.0.0.1:9",
                                        credentials={"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}))
    for service in ("lambda", "logs", "cloudwatch", "ce", "sts"):
        clients.client(service)
    units.append(clients)
    if i == 0:
        first = rss_mb()
print(rss_mb() - first)
"""


def test_the_clients_of_more_account_regions_cost_little_memory() -> None:
    # A process of its own, so what the rest of the tests loaded does not count.
    done = subprocess.run([sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, timeout=120,
                          check=True, cwd=Path(__file__).parents[2])
    assert float(done.stdout) < 40, f"10 more account-regions took {float(done.stdout):.0f} MB"


def test_attempts_are_counted_by_total_max_attempts(door: Any) -> None:
    make_function(door.endpoint, "clients-attempts")
    clients = AwsClients(ClientSettings.from_config(aws_cfg(), ctx({**TEST_ENV, "INFERWATCH_AWS_MAX_ATTEMPTS": "3"})))
    lam = clients.client("lambda")
    plan = door.inject(every=1)
    with pytest.raises(ProviderThrottledError, match="lambda:ListVersionsByFunction"):
        LambdaConfigReader(lam).fetch("clients-attempts")
    assert plan.injected == 3  # attempts, not retries


def test_translation_table() -> None:
    def client_error(code: str, status: int) -> ClientError:
        response: Any = {"Error": {"Code": code, "Message": "m"},
                         "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}
        return ClientError(response, "Op")

    assert isinstance(translate_error(client_error("AccessDeniedException", 400), "x:Y"), ProviderAuthError)
    assert isinstance(translate_error(client_error("ExpiredToken", 400), "x:Y"), ProviderAuthError)
    assert isinstance(translate_error(client_error("TooManyRequestsException", 429), "x:Y"), ProviderThrottledError)
    assert isinstance(translate_error(client_error("ServiceUnavailable", 503), "x:Y"), ProviderUnavailableError)
    assert isinstance(translate_error(client_error("ValidationError", 400), "x:Y"), ProviderDataError)
    denied = translate_error(NoCredentialsError(), "sts:GetCallerIdentity")
    assert isinstance(denied, ProviderAuthError) and denied.action == "sts:GetCallerIdentity"
    down = translate_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "x:Y")
    assert isinstance(down, ProviderUnavailableError) and down.provider == "aws"
    assert action_name("lambda", "list_provisioned_concurrency_configs") == "lambda:ListProvisionedConcurrencyConfigs"
