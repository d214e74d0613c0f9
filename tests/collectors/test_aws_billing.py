"""Cost Explorer: request shape, tag attribution, pagination, over moto's seeded CE results."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from collectors.aws_billing import CostExplorerReader, cost_period, cost_request, to_costs
from collectors.errors import ProviderDataError
from tests.collectors.aws_standin import boto_client, shared


def group(keys: list[str], cost: str, qty: str = "10", unit: str = "Requests") -> dict[str, Any]:
    return {"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": cost, "Unit": "USD"},
                                      "UsageQuantity": {"Amount": qty, "Unit": unit}}}


def period(day: str, end: str, groups: list[dict[str, Any]], estimated: bool = False) -> dict[str, Any]:
    return {"TimePeriod": {"Start": day, "End": end}, "Total": {}, "Groups": groups, "Estimated": estimated}


def test_request_groups_by_usage_type_and_optional_tag() -> None:
    plain = cost_request("eu-west-1", date(2026, 11, 20), date(2026, 11, 25), None)
    assert plain["GroupBy"] == [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}]
    assert plain["TimePeriod"] == {"Start": "2026-11-20", "End": "2026-11-25"} and plain["Granularity"] == "DAILY"
    assert {"Dimensions": {"Key": "SERVICE", "Values": ["AWS Lambda"]}} in plain["Filter"]["And"]
    tagged = cost_request("eu-west-1", date(2026, 11, 20), date(2026, 11, 25), "inferwatch")
    assert tagged["GroupBy"][1] == {"Type": "TAG", "Key": "inferwatch"}


def test_cost_period_reaches_back_further_on_a_first_run() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert cost_period(now, None, days_back=3) == (date(2026, 11, 10), date(2026, 11, 25))
    assert cost_period(now, now, days_back=3) == (date(2026, 11, 21), date(2026, 11, 25))


def test_tag_values_attribute_cost_to_functions_and_the_rest_to_the_account() -> None:
    results = [period("2026-11-23", "2026-11-24", [
        group(["EU-Request", "inferwatch$scorer"], "0.20"),
        group(["EU-Lambda-GB-Second", "inferwatch$scorer"], "1.50", "90000", "Lambda-GB-Second"),
        group(["EU-Request", "inferwatch$"], "0.05"),
        group(["EU-Request", "inferwatch$unknown-fn"], "0.01"),
    ], estimated=True)]
    costs = to_costs(results, fallback_scope="aws:1:eu-west-1", scope_of_tag={"scorer": "aws:eu-west-1:scorer"},
                     tag_key="inferwatch")
    by = {(c.scope, c.usage_type): c for c in costs}
    assert by[("aws:eu-west-1:scorer", "EU-Request")].cost_usd == 0.20
    assert by[("aws:eu-west-1:scorer", "EU-Lambda-GB-Second")].usage_unit == "Lambda-GB-Second"
    assert by[("aws:1:eu-west-1", "EU-Request")].cost_usd == pytest.approx(0.06)  # untagged + unknown merged
    assert all(c.estimated and c.day == datetime(2026, 11, 23, tzinfo=UTC) for c in costs)


def test_bad_amount_names_the_group() -> None:
    results = [period("2026-11-23", "2026-11-24", [group(["EU-Request"], "lots")])]
    with pytest.raises(ProviderDataError, match="2026-11-23 EU-Request: UnblendedCost"):
        to_costs(results, fallback_scope="s", scope_of_tag={}, tag_key=None)


def test_seeded_cost_explorer_over_moto() -> None:
    moto, door = shared()
    request = cost_request("ap-south-1", date(2026, 10, 1), date(2026, 10, 3), None)
    moto.seed_cost_results([{"ResultsByTime": [
        period("2026-10-01", "2026-10-02", [group(["APS3-Request"], "0.4")]),
        period("2026-10-02", "2026-10-03", [group(["APS3-Request"], "0.6")])]}])
    reader = CostExplorerReader(boto_client("ce", door.endpoint, region="us-east-1"))
    costs = to_costs(reader.fetch(request), fallback_scope="aws:1:ap-south-1", scope_of_tag={}, tag_key=None)
    assert [c.cost_usd for c in costs] == [0.4, 0.6] and reader.calls == 1


def test_pagination_follows_next_page_token() -> None:
    # Stubber: moto's CE never pages; the real model checks NextPageToken is sent back.
    client = boto_client("ce", shared()[1].endpoint, region="us-east-1")
    request = cost_request("eu-west-1", date(2026, 11, 1), date(2026, 11, 3), None)
    with Stubber(client) as stub:
        stub.add_response("get_cost_and_usage", {"ResultsByTime": [
            period("2026-11-01", "2026-11-02", [group(["EU-Request"], "1")])], "NextPageToken": "p2"}, request)
        stub.add_response("get_cost_and_usage", {"ResultsByTime": [
            period("2026-11-02", "2026-11-03", [group(["EU-Request"], "2")])]}, {**request, "NextPageToken": "p2"})
        results = CostExplorerReader(client).fetch(request)
    assert [r["TimePeriod"]["Start"] for r in results] == ["2026-11-01", "2026-11-02"]
