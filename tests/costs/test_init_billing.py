"""Lambda's INIT billing rule of 2025-08-01 and SnapStart restores, priced from real REPORT records.

Since 2025-08-01 Lambda bills the INIT phase of every configuration and REPORT's ``Billed Duration``
includes it; before, an on-demand ZIP function on a managed runtime initialised for free and its
``Billed Duration`` held none. The ``Duration`` metric never includes init.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from collectors.aws_logs import parse_event, step_metrics
from costs.catalogue import PriceCatalogue, load_catalogue
from costs.errors import PriceCatalogueError
from costs.per_prediction import estimate_costs
from inferwatch.schema import Metric, MetricPoint
from tests.costs.builders import lam

CAT = load_catalogue()
RATE = CAT.lambda_prices("x86_64").duration_usd_per_gb_s  # per GB-s; the functions below have 1 GB
BEFORE = datetime(2025, 7, 14, 10, tzinfo=UTC)
AFTER = datetime(2026, 11, 24, 10, tzinfo=UTC)
FN = lam("billing", memory_mb=1024)


def json_report(metrics: dict[str, float]) -> str:
    return json.dumps({"time": "2026-11-24T10:00:01.000Z", "type": "platform.report",
                       "record": {"requestId": "r", "metrics": metrics, "status": "success"}})


# The same cold invocation (102.25 ms handler, 812.40 ms init) as REPORT wrote it under each rule.
COLD_BEFORE_TEXT = ("REPORT RequestId: a Duration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 1024 MB\t"
                    "Max Memory Used: 131 MB\tInit Duration: 812.40 ms")
COLD_AFTER_TEXT = COLD_BEFORE_TEXT.replace("Billed Duration: 103 ms", "Billed Duration: 915 ms")
METRICS = {"durationMs": 102.25, "memorySizeMB": 1024, "maxMemoryUsedMB": 131, "initDurationMs": 812.4}
COLD_BEFORE_JSON = json_report({**METRICS, "billedDurationMs": 103})
COLD_AFTER_JSON = json_report({**METRICS, "billedDurationMs": 915})
WARM_TEXT = ("REPORT RequestId: b Duration: 4.10 ms\tBilled Duration: 5 ms\tMemory Size: 1024 MB\t"
             "Max Memory Used: 140 MB")
RESTORE_TEXT = ("REPORT RequestId: c Duration: 2.01 ms\tBilled Duration: 3 ms\tMemory Size: 1024 MB\t"
                "Max Memory Used: 98 MB\tRestore Duration: 290.43 ms\tBilled Restore Duration: 98 ms")
RESTORE_JSON = json_report({"durationMs": 2.01, "billedDurationMs": 3, "memorySizeMB": 1024, "maxMemoryUsedMB": 98,
                            "restoreDurationMs": 290.43, "billedRestoreDurationMs": 98})


def points_from_reports(lines: Sequence[str], at: datetime) -> list[MetricPoint]:
    """What the AWS collector stores for one hour holding these REPORT records, plus the
    CloudWatch invocation count."""
    records = [parse_event(line, int(at.timestamp() * 1000), "2025/07/14/[1]abc") for line in lines]
    metrics = step_metrics([r for r in records if r is not None])
    metrics[Metric.INVOCATIONS] = float(len(lines))
    return [MetricPoint(FN.id, name, at, 3600, value) for name, value in metrics.items()]


def priced(points: list[MetricPoint], catalogue: PriceCatalogue = CAT):  # type: ignore[no-untyped-def]
    (window,) = estimate_costs([FN], points, catalogue).windows
    return window.cost


@pytest.mark.parametrize(("line", "at", "billed_ms", "init_ms"), [
    (COLD_BEFORE_TEXT, BEFORE, 103, 0.0), (COLD_BEFORE_JSON, BEFORE, 103, 0.0),
    (COLD_AFTER_TEXT, AFTER, 915, 812.4), (COLD_AFTER_JSON, AFTER, 915, 812.4),
], ids=["text before", "json before", "text after", "json after"])
def test_a_cold_start_costs_what_report_billed(line: str, at: datetime, billed_ms: float, init_ms: float) -> None:
    cost = priced(points_from_reports([line, WARM_TEXT], at))
    assert cost.compute_usd + cost.init_usd == pytest.approx((billed_ms + 5) / 1000 * RATE)  # init never twice
    assert cost.init_usd == pytest.approx(init_ms / 1000 * RATE)  # the billed init, apart; free before the rule
    assert cost.request_usd == pytest.approx(2 * 0.2e-6) and cost.restore_usd == 0.0


@pytest.mark.parametrize(("at", "init_billed"), [(BEFORE, False), (AFTER, True)], ids=["before", "after"])
def test_the_duration_metric_gets_the_init_added_since_the_rule(at: datetime, init_billed: bool) -> None:
    # No REPORT records (logs not collected): CloudWatch's Duration excludes the init phase.
    points = [MetricPoint(FN.id, name, at, 3600, value) for name, value in (
        (Metric.INVOCATIONS, 2.0), (Metric.DURATION_SUM, 106.35), (Metric.INIT_SUM, 812.4))]
    cost = priced(points)
    assert cost.compute_usd == pytest.approx(106.35 / 1000 * RATE)
    assert cost.init_usd == pytest.approx(812.4 / 1000 * RATE if init_billed else 0.0)


@pytest.mark.parametrize("line", [RESTORE_TEXT, RESTORE_JSON], ids=["text", "json"])
def test_a_snapstart_restore_is_billed_its_restore_time_apart(line: str) -> None:
    cost = priced(points_from_reports([line, WARM_TEXT], AFTER))
    assert cost.restore_usd == pytest.approx(98 / 1000 * RATE)
    assert cost.compute_usd == pytest.approx((3 + 5) / 1000 * RATE) and cost.init_usd == 0.0
    assert cost.total_usd == pytest.approx((3 + 5 + 98) / 1000 * RATE + 2 * 0.2e-6)


def test_the_rule_date_is_in_the_catalogue_with_its_source() -> None:
    rule = CAT.aws_lambda.init_billing
    assert rule.billed_since == "2025-08-01" and rule.source_url.startswith("https://aws.amazon.com/")
    assert rule.billed_since_s == int(datetime(2025, 8, 1, tzinfo=UTC).timestamp())
    moved = load_catalogue({"aws_lambda": {"init_billing": {"billed_since": "2027-01-01"}}})
    assert priced(points_from_reports([COLD_AFTER_TEXT], AFTER), moved).init_usd == 0.0  # AFTER is before 2027
    with pytest.raises(PriceCatalogueError) as info:
        load_catalogue({"aws_lambda": {"init_billing": {"billed_since": "August 2025"}}})
    assert info.value.field == "prices.aws_lambda.init_billing.billed_since"


def test_advice_sees_the_billed_handler_time_and_the_init_apart() -> None:
    from costs.usage import summarize_usage

    (usage,) = summarize_usage([FN], points_from_reports([COLD_AFTER_TEXT, WARM_TEXT], AFTER), CAT, period_s=3600)
    assert usage.billed_duration_ms == pytest.approx(915 + 5 - 812.4) and usage.init_ms == pytest.approx(812.4)
