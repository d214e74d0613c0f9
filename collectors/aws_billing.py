"""Billed Lambda cost from Cost Explorer ``GetCostAndUsage``: daily, by usage type and, when a
cost-allocation tag is configured, by that tag's value (the function it names).

Cost Explorer costs $0.01 per request and refreshes about daily, so the collector asks at most every
``refresh_s`` (see :mod:`collectors.aws`), re-reading the last few days because open days are
``Estimated`` and get revised. Each request is paged on ``NextPageToken``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from collectors.aws_client import call_aws
from collectors.errors import ProviderDataError
from inferwatch.schema import CostRecord

COST_REFRESH_S = 6 * 3600  # Cost Explorer: $0.01 a request, refreshed about daily
COST_DAYS_BACK = 3  # open days are estimates and get revised
SERVICE = "AWS Lambda"
SOURCE = "aws-cost-explorer"
MAX_PAGES = 1000


def cost_request(region: str, start: date, end: date, tag_key: str | None) -> dict[str, Any]:
    """The GetCostAndUsage request for ``[start, end)`` (``end`` exclusive)."""
    group_by = [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}]
    if tag_key:
        group_by.append({"Type": "TAG", "Key": tag_key})
    return {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost", "UsageQuantity"],
        "Filter": {"And": [{"Dimensions": {"Key": "SERVICE", "Values": [SERVICE]}},
                           {"Dimensions": {"Key": "REGION", "Values": [region]}}]},
        "GroupBy": group_by,
    }


def _number(metrics: Mapping[str, Any], name: str, where: str) -> tuple[float, str]:
    item = metrics.get(name)
    if not isinstance(item, dict):
        raise ProviderDataError(f"Cost Explorer group {where} lacks {name}", provider="aws")
    try:
        return float(item["Amount"]), str(item.get("Unit", ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderDataError(f"Cost Explorer group {where}: {name} amount {item.get('Amount')!r} is not a number",
                                provider="aws") from exc


def to_costs(results: list[dict[str, Any]], *, fallback_scope: str, scope_of_tag: Mapping[str, str],
             tag_key: str | None) -> list[CostRecord]:
    """CostRecords from ``ResultsByTime``; a tag value naming a known function is attributed to it."""
    out: list[CostRecord] = []
    for period in results:
        day = datetime.fromisoformat(period["TimePeriod"]["Start"]).replace(tzinfo=UTC)
        estimated = bool(period.get("Estimated", False))
        for group in period.get("Groups", []):
            keys = list(group.get("Keys", []))
            usage_type = keys[0] if keys else "unknown"
            scope = fallback_scope
            if tag_key and len(keys) > 1:
                value = keys[1].split("$", 1)[1] if "$" in keys[1] else ""
                scope = scope_of_tag.get(value, fallback_scope)
            where = f"{day.date()} {'/'.join(keys)}"
            cost, _ = _number(group.get("Metrics", {}), "UnblendedCost", where)
            quantity, unit = _number(group.get("Metrics", {}), "UsageQuantity", where)
            out.append(CostRecord(scope=scope, day=day, usage_type=usage_type, cost_usd=cost,
                                  usage_quantity=quantity, usage_unit=unit, estimated=estimated, source=SOURCE))
    return _merge(out)


def _merge(records: list[CostRecord]) -> list[CostRecord]:
    """One record per (scope, day, usage type): tag values that map to the same scope are added."""
    merged: dict[tuple[str, datetime, str], CostRecord] = {}
    for r in records:
        key = (r.scope, r.day, r.usage_type)
        old = merged.get(key)
        if old is None:
            merged[key] = r
        else:
            merged[key] = CostRecord(r.scope, r.day, r.usage_type, old.cost_usd + r.cost_usd,
                                     old.usage_quantity + r.usage_quantity, r.usage_unit or old.usage_unit,
                                     old.estimated or r.estimated, r.source)
    return sorted(merged.values(), key=lambda c: (c.day, c.scope, c.usage_type))


class CostExplorerReader:
    """Reads daily Lambda cost; botocore errors stop here."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0

    def fetch(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self._pages(request))

    def _pages(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        token: str | None = None
        for _ in range(MAX_PAGES):
            response = self._call({**request, **({"NextPageToken": token} if token else {})})
            yield from response.get("ResultsByTime", [])
            new_token = response.get("NextPageToken")
            if not new_token or new_token == token:
                return
            token = new_token

    def _call(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return call_aws(self._client, "ce", "get_cost_and_usage", kwargs)


def cost_period(now: datetime, last_fetch: datetime | None, *, days_back: int) -> tuple[date, date]:
    """``[start, end)`` in days: ``days_back`` before today (more on a first run), through today."""
    today = now.astimezone(UTC).date()
    back = days_back if last_fetch is not None else max(days_back, 14)
    return today - timedelta(days=back), today + timedelta(days=1)


def costs_due(now: datetime, last_fetch_epoch: int | None) -> bool:
    """True when Cost Explorer was never asked or last asked ``COST_REFRESH_S`` ago or more."""
    return last_fetch_epoch is None or now.timestamp() - last_fetch_epoch >= COST_REFRESH_S


def fetch_costs(reader: CostExplorerReader, now: datetime, last_fetch_epoch: int | None, *, region: str,
                tags: Sequence[str | None], scope_of_tag: Mapping[str, str], account: Callable[[], str],
                warnings: list[str]) -> list[CostRecord]:
    """Daily Lambda cost of one account and region; ``account`` is called only for unattributed cost."""
    keys = sorted({t for t in tags if t})
    if len(keys) > 1:
        warnings.append(f"several cost allocation tags configured ({', '.join(keys)}); using {keys[0]}")
    tag = keys[0] if keys else None
    last = datetime.fromtimestamp(last_fetch_epoch, tz=UTC) if last_fetch_epoch is not None else None
    start, end = cost_period(now, last, days_back=COST_DAYS_BACK)
    results = reader.fetch(cost_request(region, start, end, tag))
    return to_costs(results, fallback_scope=f"aws:{account()}:{region}", scope_of_tag=scope_of_tag, tag_key=tag)
