"""The BigQuery billing-export query (pure SQL builder) and its rows as CostRecords."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.base import CollectorContext
from collectors.errors import CollectorError, ProviderDataError
from collectors.gcp import from_settings
from collectors.gcp_billing import (
    BigQueryBillingSource,
    BillingQuery,
    billing_days,
    build_billing_query,
    cost_records,
    is_detailed_export,
)
from inferwatch.config import parse_settings
from inferwatch.errors import ConfigError
from inferwatch.schema import CostRecord
from tests.collectors.gcp_standin import NOW, PROJECT, TARGET, GcpStandIn, make_collector, running, seed

DETAILED = "billing-proj.billing_ds.gcp_billing_export_resource_v1_0A1B2C_3D4E5F"
STANDARD = "billing-proj.billing_ds.gcp_billing_export_v1_0A1B2C_3D4E5F"

EXPECTED_DETAILED_SQL = """SELECT
  DATE(usage_start_time) AS day,
  sku.description AS sku,
  usage.pricing_unit AS usage_unit,
  SUM(cost / currency_conversion_rate)
    + SUM(IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0) / currency_conversion_rate) AS cost_usd,
  SUM(usage.amount_in_pricing_units) AS usage_quantity
FROM `billing-proj.billing_ds.gcp_billing_export_resource_v1_0A1B2C_3D4E5F`
WHERE service.description = 'Cloud Run'
  AND project.id = @project
  AND location.region = @region
  AND resource.name = @service
  AND usage_start_time >= @start
  AND usage_start_time < @end
  AND _PARTITIONTIME >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)
GROUP BY day, sku, usage_unit
ORDER BY day, sku, usage_unit"""


def test_detailed_export_query_is_per_service() -> None:
    q = build_billing_query(DETAILED, TARGET, date(2026, 11, 20), date(2026, 11, 25))
    assert q.sql == EXPECTED_DETAILED_SQL
    assert q.parameters == {"project": PROJECT, "region": "europe-west1", "service": "scorer",
                            "start": datetime(2026, 11, 20, tzinfo=UTC), "end": datetime(2026, 11, 25, tzinfo=UTC)}
    assert q.scope == "gcp:europe-west1:scorer"


def test_standard_export_query_is_per_project() -> None:
    q = build_billing_query(STANDARD, TARGET, date(2026, 11, 20), date(2026, 11, 21))
    assert "resource.name" not in q.sql and "@service" not in q.sql
    assert q.sql == EXPECTED_DETAILED_SQL.replace("  AND resource.name = @service\n", "").replace(DETAILED, STANDARD)
    assert "service" not in q.parameters and q.scope == f"gcp:{PROJECT}"
    assert is_detailed_export(DETAILED) and not is_detailed_export(STANDARD)


@pytest.mark.parametrize("table", ["billing_ds.table", "p.d.t`; DROP TABLE x; --", "p.d.t OR 1=1", ""])
def test_table_names_are_validated(table: str) -> None:
    with pytest.raises(ProviderDataError, match="billing_export_table"):
        build_billing_query(table, TARGET, date(2026, 11, 20), date(2026, 11, 21))


def test_empty_day_range_is_refused() -> None:
    with pytest.raises(ProviderDataError, match="empty"):
        build_billing_query(DETAILED, TARGET, date(2026, 11, 21), date(2026, 11, 21))


def test_rows_become_cost_records_recent_days_estimated() -> None:
    rows = [
        {"day": date(2026, 11, 20), "sku": "CPU Allocation Time", "usage_unit": "vCPU-seconds",
         "cost_usd": 1.25, "usage_quantity": 52000.0},
        {"day": date(2026, 11, 23), "sku": "Requests", "usage_unit": "requests", "cost_usd": 0, "usage_quantity": None},
    ]
    out = cost_records(rows, "gcp:europe-west1:scorer", today=date(2026, 11, 24))
    assert out == [
        CostRecord("gcp:europe-west1:scorer", datetime(2026, 11, 20, tzinfo=UTC), "CPU Allocation Time", 1.25,
                   52000.0, "vCPU-seconds", False, "gcp_billing_export"),
        CostRecord("gcp:europe-west1:scorer", datetime(2026, 11, 23, tzinfo=UTC), "Requests", 0.0, 0.0,
                   "requests", True, "gcp_billing_export"),
    ]


@pytest.mark.parametrize("row", [{"sku": "x", "cost_usd": 1.0}, {"day": date(2026, 11, 1), "cost_usd": "1.0"},
                                 {"day": date(2026, 11, 1), "cost_usd": None}])
def test_bad_rows_name_the_problem(row: dict[str, Any]) -> None:
    with pytest.raises(ProviderDataError, match="billing row"):
        cost_records([row], "gcp:p", today=date(2026, 11, 24))


def test_billing_days_first_run_and_resume() -> None:
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert billing_days(now, None) == (date(2026, 11, 17), date(2026, 11, 25))
    assert billing_days(now, date(2026, 11, 24)) == (date(2026, 11, 21), date(2026, 11, 25))  # open days re-read


def test_real_source_says_which_extra_is_missing() -> None:
    source = BigQueryBillingSource("billing-proj")
    query = build_billing_query(DETAILED, TARGET, date(2026, 11, 20), date(2026, 11, 21))
    try:
        import google.cloud.bigquery  # noqa: F401
    except ImportError:
        with pytest.raises(CollectorError, match=r"inferwatch\[gcp-billing\]"):
            source.fetch_rows(query)
    else:
        assert source.job_project == "billing-proj"  # the extra is installed: only the lazy import is checked


class FakeBilling:
    """The BillingSource seam, answering canned rows."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows = rows
        self.queries: list[BillingQuery] = []

    def fetch_rows(self, query: BillingQuery) -> Sequence[Mapping[str, Any]]:
        self.queries.append(query)
        return self.rows


@pytest.fixture
def standin() -> Iterator[GcpStandIn]:
    with running(GcpStandIn()) as s:
        seed(s)
        yield s


def test_collector_reads_billing_at_most_hourly(standin: GcpStandIn) -> None:
    fake = FakeBilling([{"day": date(2026, 11, 23), "sku": "Memory Allocation Time", "usage_unit": "GiB-seconds",
                         "cost_usd": 0.5, "usage_quantity": 200000.0}])
    collector = make_collector(standin, billing_table=DETAILED, billing=lambda _clients: fake)
    first = collector.collect(NOW, None)
    assert [c.usage_type for c in first.costs] == ["Memory Allocation Time"]
    assert first.costs[0].scope == "gcp:europe-west1:scorer" and first.costs[0].estimated
    assert first.cursor is not None and first.cursor["billing_until"] == "2026-11-24"
    soon = collector.collect(NOW + timedelta(minutes=5), first.cursor)
    assert soon.costs == () and len(fake.queries) == 1
    later = collector.collect(NOW + timedelta(hours=1), soon.cursor)
    assert len(later.costs) == 1 and len(fake.queries) == 2
    assert fake.queries[1].parameters["start"] == datetime(2026, 11, 21, tzinfo=UTC)


class FailingBilling:
    def __init__(self) -> None:
        self.calls = 0

    def fetch_rows(self, query: BillingQuery) -> Sequence[Mapping[str, Any]]:
        self.calls += 1
        raise CollectorError("BigQuery billing export query: PermissionDenied", provider="gcp")


def test_a_billing_failure_is_a_warning_and_waits_an_hour(standin: GcpStandIn) -> None:
    failing = FailingBilling()
    collector = make_collector(standin, billing_table=DETAILED, billing=lambda _clients: failing)
    first = collector.collect(NOW, None)
    assert first.costs == () and len(first.points) > 50  # the metrics still land
    assert first.warnings == ("billing export not read: BigQuery billing export query: PermissionDenied",)
    second = collector.collect(NOW + timedelta(minutes=1), first.cursor)
    assert failing.calls == 1 and second.warnings == ()


def test_bad_billing_table_is_a_config_error(tmp_path: Path) -> None:
    settings = parse_settings({"deployments": [{"provider": "gcp", "project": PROJECT, "region": "europe-west1",
                                                "service_name": "scorer", "billing_export_table": "ds.table"}]})
    with pytest.raises(ConfigError, match=r"deployments\[0\]\.billing_export_table"):
        from_settings(settings, CollectorContext(home=tmp_path))
