"""Billed Cloud Run cost from the Cloud Billing export to BigQuery (the authoritative GCP source;
there is no Cost-Explorer-like query API).

The SQL is built by a pure function (tested); running it sits behind ``BillingSource`` so the
collector never imports BigQuery itself. ``BigQueryBillingSource`` imports ``google.cloud.bigquery``
lazily: it is the optional extra ``gcp-billing``.

The *detailed* export (``gcp_billing_export_resource_v1_*``) names the Cloud Run service in
``resource.name``, so its costs are attributed to ``gcp:<region>:<service>``. The *standard* export
(``gcp_billing_export_v1_*``) has no resource column: costs are those of every Cloud Run service of
the project in the region, scoped ``gcp:<project>``. Amounts are converted to USD with the row's
``currency_conversion_rate`` and include credits (negative amounts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from collectors.errors import CollectorError, ProviderDataError
from collectors.gcp_client import GOOGLE_ERRORS, PROVIDER, Target, translate_error
from inferwatch.schema import CostRecord

SOURCE = "gcp_billing_export"
# The permissions a query job over the export table needs (in deploy/iam/gcp-collector-role.yaml).
PERMISSIONS = ("bigquery.jobs.create", "bigquery.tables.getData")
# Days the export keeps revising (late usage, credits): re-read and marked estimated.
OPEN_DAYS = 3

_TABLE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")
_DETAILED = "gcp_billing_export_resource_v1_"


@dataclass(frozen=True, slots=True)
class BillingQuery:
    """A parameterized BigQuery query: table names cannot be parameters, so ``table`` is validated."""

    sql: str
    parameters: Mapping[str, Any]
    scope: str


def is_valid_table(table: str) -> bool:
    return bool(_TABLE.match(table))


def is_detailed_export(table: str) -> bool:
    return table.rsplit(".", 1)[-1].startswith(_DETAILED)


def build_billing_query(table: str, target: Target, start_day: date, end_day: date) -> BillingQuery:
    """Daily Cloud Run cost per SKU for ``target`` from ``start_day`` (inclusive) to ``end_day``
    (exclusive).

    Raises
    ------
    ProviderDataError
        ``table`` is not ``project.dataset.table`` or the day range is empty.
    """
    if not _TABLE.match(table):
        raise ProviderDataError(f"billing_export_table {table!r} is not of the form project.dataset.table",
                                provider=PROVIDER)
    if end_day <= start_day:
        raise ProviderDataError(f"billing day range {start_day}..{end_day} is empty", provider=PROVIDER)
    detailed = is_detailed_export(table)
    where = [
        "service.description = 'Cloud Run'",
        "project.id = @project",
        "location.region = @region",
        "usage_start_time >= @start",
        "usage_start_time < @end",
        # The table is partitioned by export time, which is never before the usage it reports.
        "_PARTITIONTIME >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)",
    ]
    if detailed:
        where.insert(3, "resource.name = @service")
    sql = (
        "SELECT\n"
        "  DATE(usage_start_time) AS day,\n"
        "  sku.description AS sku,\n"
        "  usage.pricing_unit AS usage_unit,\n"
        "  SUM(cost / currency_conversion_rate)\n"
        "    + SUM(IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0) / currency_conversion_rate)"
        " AS cost_usd,\n"
        "  SUM(usage.amount_in_pricing_units) AS usage_quantity\n"
        f"FROM `{table}`\n"
        "WHERE " + "\n  AND ".join(where) + "\n"
        "GROUP BY day, sku, usage_unit\n"
        "ORDER BY day, sku, usage_unit"
    )
    start = datetime.combine(start_day, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(end_day, datetime.min.time(), tzinfo=UTC)
    params: dict[str, Any] = {"project": target.project, "region": target.region, "start": start, "end": end}
    if detailed:
        params["service"] = target.service
    scope = target.service_id if detailed else f"{PROVIDER}:{target.project}"
    return BillingQuery(sql=sql, parameters=params, scope=scope)


def cost_records(rows: Iterable[Mapping[str, Any]], scope: str, today: date) -> list[CostRecord]:
    """CostRecords from the query's rows; days within ``OPEN_DAYS`` of ``today`` are estimates."""
    out: list[CostRecord] = []
    for row in rows:
        day = row.get("day")
        if not isinstance(day, date):
            raise ProviderDataError(f"billing row without a day: {dict(row)!r}", provider=PROVIDER)
        cost, quantity = row.get("cost_usd"), row.get("usage_quantity")
        if not isinstance(cost, int | float) or not isinstance(quantity, int | float | type(None)):
            raise ProviderDataError(f"billing row with a non-numeric cost or usage: {dict(row)!r}",
                                    provider=PROVIDER)
        out.append(CostRecord(
            scope=scope, day=datetime.combine(day, datetime.min.time(), tzinfo=UTC),
            usage_type=str(row.get("sku") or "unknown"), cost_usd=float(cost),
            usage_quantity=float(quantity or 0.0), usage_unit=str(row.get("usage_unit") or ""),
            estimated=day > today - timedelta(days=OPEN_DAYS), source=SOURCE,
        ))
    return out


class BillingSource(Protocol):
    """Runs a billing query; the seam between the collector and BigQuery."""

    def fetch_rows(self, query: BillingQuery) -> Sequence[Mapping[str, Any]]: ...


class BigQueryBillingSource:
    """The real source: a BigQuery query job in ``job_project`` (needs the ``gcp-billing`` extra)."""

    def __init__(self, job_project: str, *, credentials: Any = None, timeout_s: float = 120.0) -> None:
        self.job_project = job_project
        self.credentials = credentials
        self.timeout_s = timeout_s
        self._client: Any = None

    def _bigquery(self) -> Any:
        try:
            from google.cloud import bigquery  # type: ignore[attr-defined,unused-ignore]
        except ImportError as exc:
            raise CollectorError("billing_export_table is set but google-cloud-bigquery is not installed: "
                                 "pip install 'inferwatch[gcp-billing]'", provider=PROVIDER) from exc
        return bigquery

    def fetch_rows(self, query: BillingQuery) -> list[Mapping[str, Any]]:
        bigquery = self._bigquery()
        types = {str: "STRING", datetime: "TIMESTAMP"}
        params = [bigquery.ScalarQueryParameter(name, types[type(value)], value)
                  for name, value in query.parameters.items()]
        try:
            if self._client is None:
                self._client = bigquery.Client(project=self.job_project, credentials=self.credentials)
            job = self._client.query(query.sql, job_config=bigquery.QueryJobConfig(query_parameters=params))
            return [dict(row.items()) for row in job.result(timeout=self.timeout_s)]
        except GOOGLE_ERRORS as exc:
            raise translate_error(exc, action="BigQuery billing export query",
                                  permission=" and ".join(PERMISSIONS)) from exc


def billing_days(now: datetime, last_until: date | None, *, lookback_days: int = 7) -> tuple[date, date]:
    """The days to (re)query: the still-open days before today, or the lookback on a first run."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=lookback_days)
    start = max(first, (last_until or first) - timedelta(days=OPEN_DAYS))
    return start, today + timedelta(days=1)
