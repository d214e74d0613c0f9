"""A fleet of Lambda functions across several accounts and regions in the moto stand-in, for the scale
benchmark and the work-split tests.

Accounts are moto's own multi-account support: AssumeRole into ``arn:aws:iam::<account>:role/...``
returns keys that moto files under that account, so every request signed with them reads and writes
that account's backends (moto 5: ``moto.sts.models.STSBackend.assume_role``, "the ARN can point to
another account"). The collector does exactly that with ``role_arn`` in its config, the way a real
multi-account setup reads each account through one role. Regions are the signing region, as in AWS.

Function names carry their account and region, so no two units share a dimension value (moto mixes
metrics of equal dimensions across namespaces; see tests/collectors/aws_standin.py).

``python -m tests.collectors.aws_fleet`` runs the stand-in in a process of its own (the benchmark
measures the collectors' memory and CPU without moto's) and prints its endpoint; it stops when its
standard input closes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.collectors.aws_standin import MotoStandIn, _zip_bytes

ROLE_NAME = "inferwatch-reader"
REGIONS = ("eu-west-1", "us-east-1")
COLD = ("REPORT RequestId: {rid} Duration: 10.5 ms Billed Duration: 11 ms Memory Size: 512 MB "
        "Max Memory Used: 100 MB Init Duration: 800.0 ms")
WARM = "REPORT RequestId: {rid} Duration: 4.0 ms Billed Duration: 4 ms Memory Size: 512 MB Max Memory Used: 101 MB"


@dataclass(frozen=True, slots=True)
class Unit:
    """One account and region: one collector."""

    account: str
    region: str
    prefix: str = "fl"  # tests seeding one shared stand-in use one prefix each

    @property
    def name(self) -> str:
        """The collector's name (collectors.aws.unit_name)."""
        return f"aws:{ROLE_NAME}@{self.account}:{self.region}"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{ROLE_NAME}"

    def function(self, i: int) -> str:
        return f"{self.prefix}-{self.account[-3:]}-{self.region}-{i:04d}"

    def functions(self, count: int) -> list[str]:
        return [self.function(i) for i in range(count)]


def fleet(units: int, prefix: str = "fl") -> list[Unit]:
    """``units`` account-regions: accounts 1000000000xx, two regions each."""
    return [Unit(f"{100000000000 + i // len(REGIONS):012d}", REGIONS[i % len(REGIONS)], prefix) for i in range(units)]


def deployments(units: Sequence[Unit], per_unit: int) -> list[dict[str, Any]]:
    """The ``[[deployments]]`` of an inferwatch.toml for the fleet: each function with its ``live`` alias."""
    return [{"provider": "aws", "region": u.region, "role_arn": u.role_arn, "function": fn, "aliases": ["live"]}
            for u in units for fn in u.functions(per_unit)]


def unit_client(endpoint: str, unit: Unit, service: str) -> Any:
    """A boto3 client acting in ``unit``'s account and region (through AssumeRole, like the collector)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 3}, max_pool_connections=16)
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=unit.region, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=config)
    creds = sts.assume_role(RoleArn=unit.role_arn, RoleSessionName="seed")["Credentials"]
    make: Any = boto3.client  # a plain str service name (boto3's stubs overload on literals)
    return make(service, endpoint_url=endpoint, region_name=unit.region, aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
                config=config)


def seed_unit(endpoint: str, unit: Unit, per_unit: int, at: datetime, *, threads: int = 4) -> None:
    """``per_unit`` functions (version 1, alias ``live``), a minute of metrics at ``at`` and a cold and a
    warm REPORT line each."""
    iam, lam = unit_client(endpoint, unit, "iam"), unit_client(endpoint, unit, "lambda")
    try:  # IAM is global: the account's other region made it already
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument="{}")
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    role = f"arn:aws:iam::{unit.account}:role/{ROLE_NAME}"
    code = _zip_bytes()

    def make(fn: str) -> None:
        lam.create_function(FunctionName=fn, Runtime="python3.11", Role=role, Handler="handler.handler",
                            Code={"ZipFile": code}, MemorySize=512, Timeout=30)
        lam.publish_version(FunctionName=fn)
        lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1")

    names = unit.functions(per_unit)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(make, names))
    seed_metrics(endpoint, unit, names, at)
    seed_logs(endpoint, unit, names, at, threads=threads)


def seed_metrics(endpoint: str, unit: Unit, names: Sequence[str], at: datetime) -> None:
    cw = unit_client(endpoint, unit, "cloudwatch")
    data: list[dict[str, Any]] = []
    for i, fn in enumerate(names):
        dims = [{"Name": "FunctionName", "Value": fn}]
        live = [*dims, {"Name": "Resource", "Value": f"{fn}:live"}]
        data += [
            {"MetricName": "Duration", "Dimensions": dims, "Timestamp": at, "Values": [float(v) for v in range(1, 21)]},
            {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": at, "Values": [float(20 + i % 7)]},
            {"MetricName": "Errors", "Dimensions": dims, "Timestamp": at, "Values": [float(i % 3)]},
            {"MetricName": "Invocations", "Dimensions": live, "Timestamp": at, "Values": [float(10 + i % 5)]},
        ]
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=data[i:i + 500])


def seed_logs(endpoint: str, unit: Unit, names: Sequence[str], at: datetime, *, threads: int = 4) -> None:
    logs = unit_client(endpoint, unit, "logs")
    stamp = int(at.timestamp() * 1000)

    def put(fn: str) -> None:
        group = f"/aws/lambda/{fn}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="2026/11/24/[1]abc")
        logs.put_log_events(logGroupName=group, logStreamName="2026/11/24/[1]abc", logEvents=[
            {"timestamp": stamp, "message": COLD.format(rid=f"{fn}-a")},
            {"timestamp": stamp + 1000, "message": WARM.format(rid=f"{fn}-b")}])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, names))


def seed_fleet(endpoint: str, units: Sequence[Unit], per_unit: int, now: datetime) -> None:
    """Every unit, seeded a few minutes before ``now`` (inside a first collection's look-back)."""
    at = now.replace(second=0, microsecond=0) - timedelta(minutes=3)
    for unit in units:
        seed_unit(endpoint, unit, per_unit, at)


def main() -> int:
    moto = MotoStandIn()
    print(json.dumps({"endpoint": moto.endpoint}), flush=True)
    sys.stdin.read()  # until the parent closes our standard input
    moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
