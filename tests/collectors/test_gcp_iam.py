"""Least privilege: every call the GCP collector and its check make maps to a permission of
deploy/iam/gcp-collector-role.yaml, and the role holds nothing else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from collectors.base import CollectorContext
from collectors.gcp import check
from collectors.gcp_billing import PERMISSIONS as BILLING_PERMISSIONS
from collectors.gcp_billing import BillingQuery
from inferwatch.config import parse_settings
from tests.collectors.gcp_standin import (
    FAST_RETRY,
    NOW,
    PROJECT,
    REGION,
    GcpStandIn,
    make_collector,
    running,
    seed,
)

ROLE = Path(__file__).parents[2] / "deploy" / "iam" / "gcp-collector-role.yaml"

# From Google's API reference (IAM permissions per method).
RPC_PERMISSIONS = {
    "/google.monitoring.v3.MetricService/ListTimeSeries": "monitoring.timeSeries.list",
    "/google.cloud.run.v2.Services/GetService": "run.services.get",
    "/google.cloud.run.v2.Revisions/GetRevision": "run.revisions.get",
    "/google.logging.v2.LoggingServiceV2/ListLogEntries": "logging.logEntries.list",
}


class RecordingBilling:
    """The billing seam: records that a BigQuery query job would run."""

    def __init__(self) -> None:
        self.queries: list[BillingQuery] = []

    def fetch_rows(self, query: BillingQuery) -> Sequence[Mapping[str, Any]]:
        self.queries.append(query)
        return []


def test_role_lists_exactly_the_permissions_used(tmp_path: Path) -> None:
    billing = RecordingBilling()
    with running(GcpStandIn()) as standin:
        seed(standin)
        collector = make_collector(standin, billing_table="billing-proj.billing.gcp_billing_export_resource_v1_X",
                                   billing=lambda _clients: billing)
        collector.collect(NOW, None)
        settings = parse_settings({"deployments": [
            {"provider": "gcp", "project": PROJECT, "region": REGION, "service_name": "scorer"}]})
        check(settings, CollectorContext(home=tmp_path, endpoints={"gcp": standin.address}), retry=FAST_RETRY)
        methods = {c.method for c in standin.calls}
    assert methods == set(RPC_PERMISSIONS)  # every RPC the stand-in saw has a known permission
    used = {RPC_PERMISSIONS[m] for m in methods} | (set(BILLING_PERMISSIONS) if billing.queries else set())
    role = yaml.safe_load(ROLE.read_text(encoding="utf-8"))
    assert set(role["includedPermissions"]) == used
    assert role["stage"] == "GA" and role["title"]
    assert all(not p.endswith((".create", ".update", ".delete", ".setIamPolicy")) or p == "bigquery.jobs.create"
               for p in role["includedPermissions"])  # read-only, apart from running a query job
