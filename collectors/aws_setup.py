"""What ``inferwatch setup aws --apply`` changes on a Lambda function, through the same clients and error
translation as the collector (:mod:`collectors.aws_client`): the probe's environment variables, merged into
the function's own (UpdateFunctionConfiguration replaces the whole set, so they are read first), and the
retention of its log group. These are the deploying user's actions, not the collector's: they are not in
deploy/iam/aws-collector-policy.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from collectors.aws_client import AwsClients, call_aws


@dataclass(frozen=True, slots=True)
class Applied:
    """What one ``--apply`` did, for the command to print."""

    environment: Mapping[str, str]  # the function's variables afterwards
    log_group: str
    retention_days: int
    log_group_created: bool


def apply_function_setup(clients: AwsClients, function: str, variables: Mapping[str, str], *, log_group: str,
                         retention_days: int) -> Applied:
    """Merge ``variables`` into the function's environment, and set its log group's retention (creating the
    group when the function has not run yet, so that the retention holds from its first line)."""
    lam = clients.client("lambda")
    current = call_aws(lam, "lambda", "get_function_configuration", {"FunctionName": function})
    merged = {**(current.get("Environment") or {}).get("Variables", {}), **variables}
    call_aws(lam, "lambda", "update_function_configuration",
             {"FunctionName": function, "Environment": {"Variables": merged}})
    logs = clients.client("logs")
    found = call_aws(logs, "logs", "describe_log_groups", {"logGroupNamePrefix": log_group})
    created = not any(g.get("logGroupName") == log_group for g in found.get("logGroups", []))
    if created:
        call_aws(logs, "logs", "create_log_group", {"logGroupName": log_group})
    call_aws(logs, "logs", "put_retention_policy", {"logGroupName": log_group, "retentionInDays": retention_days})
    return Applied(merged, log_group, retention_days, created)
