"""API calls (and their price) of one AWS collection window for 100 Lambda functions, counted against
moto, batched collector vs a naive one-call-per-metric collector measured in the same run.

    .venv/bin/python bench/aws_api_calls.py            # writes bench/results/aws_api_calls.json

The batched collector is the real one (``collectors.aws``) talking HTTP to moto behind the counting
front door of the tests; the naive collector sends the very same queries, one GetMetricData call each.
Prices (USD, CloudWatch / Cost Explorer pricing pages, us-east-1, checked 2026-11): GetMetricData
$0.01 per 1,000 metrics requested; ListMetrics $0.01 per 1,000 requests; Cost Explorer API $0.01 per
request; FilterLogEvents and the Lambda read APIs have no per-request charge.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors import aws_cloudwatch as cw
from collectors.aws import from_settings
from collectors.base import CollectorContext
from inferwatch.config import parse_settings
from tests.collectors.aws_standin import REGION, TEST_ENV, boto_client, make_function, put_values, shared

FUNCTIONS = 100
STEP_S = 60
COLLECT_EVERY_S = 300
MONTH_S = 30 * 86_400
USD_PER_METRIC = 0.01 / 1000
USD_PER_LIST_METRICS = 0.01 / 1000
USD_PER_CE_REQUEST = 0.01
COST_REFRESH_S = 6 * 3600
SCORE_EDGES = 199  # drift.cloud.DEFAULT_CLOUD_EDGES: PR(:edge) queries per model version, plus SampleCount
NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)


def seed(names: list[str]) -> None:
    moto, _ = shared()
    at = NOW - timedelta(minutes=3)
    for i, fn in enumerate(names):
        make_function(moto.endpoint, fn, versions=1, aliases={"live": "1"})
        put_values(moto.endpoint, "AWS/Lambda", "Invocations", {"FunctionName": fn}, at, [float(i + 1)])


def batched(names: list[str]) -> dict[str, Any]:
    _, door = shared()
    settings = parse_settings({"collect": {"step_s": STEP_S, "lookback_s": COLLECT_EVERY_S}, "deployments": [
        {"provider": "aws", "region": REGION, "function": fn, "aliases": ["live"]} for fn in names]})
    ctx = CollectorContext(home=ROOT / ".inferwatch", env=TEST_ENV, endpoints={"aws": door.endpoint})
    [collector] = from_settings(settings, ctx)
    cursor = {"complete_until": int(NOW.timestamp()) - COLLECT_EVERY_S, "costs_fetched_at": int(NOW.timestamp())}
    door.reset()
    started = time.perf_counter()
    batch = collector.collect(NOW, cursor)
    wall_s = time.perf_counter() - started
    return {"calls_by_action": dict(sorted(Counter(door.actions()).items())), "wall_s": round(wall_s, 3),
            "points": len(batch.points)}


def queries_for(names: list[str]) -> list[cw.MetricQuery]:
    out: list[cw.MetricQuery] = []
    for fn in names:
        whole = f"aws:{REGION}:{fn}"
        out += cw.lambda_queries(whole, fn) + cw.emf_queries(whole, fn) + cw.lambda_queries(f"{whole}:live", fn, "live")
    return out


def naive(queries: list[cw.MetricQuery]) -> dict[str, Any]:
    """One GetMetricData call per metric: what a collector without batching sends."""
    _, door = shared()
    client = boto_client("cloudwatch", door.endpoint)
    start = NOW.replace(second=0) - timedelta(seconds=COLLECT_EVERY_S)
    door.reset()
    started = time.perf_counter()
    values = 0
    for q in queries:
        response = client.get_metric_data(MetricDataQueries=[q.as_request("q0", STEP_S)], StartTime=start,
                                           EndTime=NOW.replace(second=0))
        values += sum(len(r["Values"]) for r in response["MetricDataResults"])
    return {"calls": len(door.actions()), "wall_s": round(time.perf_counter() - started, 3), "values": values}


def monthly_usd_per_function(queries_per_function: float, *, score_versions: int) -> dict[str, float]:
    """Per function per month at one collection every 5 minutes. Prediction histograms are read once per
    complete hour (SampleCount + one PR per edge per model version, with one ListMetrics to find the
    versions), Cost Explorer at most every 6 hours per account-region (shared by its functions)."""
    collections = MONTH_S / COLLECT_EVERY_S
    hours = MONTH_S / 3600
    gmd = collections * queries_per_function * USD_PER_METRIC
    hist = hours * score_versions * (SCORE_EDGES + 1) * USD_PER_METRIC
    lm = hours * USD_PER_LIST_METRICS if score_versions else 0.0
    ce = (MONTH_S / COST_REFRESH_S) * USD_PER_CE_REQUEST / FUNCTIONS
    return {"get_metric_data_metrics_usd": round(gmd, 4), "get_metric_data_histogram_usd": round(hist, 4),
            "list_metrics_usd": round(lm, 4), "cost_explorer_usd": round(ce, 4), "logs_usd": 0.0,
            "total_usd": round(gmd + hist + lm + ce, 4)}


def main() -> int:
    names = [f"bench-fn-{i:03d}" for i in range(FUNCTIONS)]
    seed(names)
    run = batched(names)
    queries = queries_for(names)
    base = naive(queries)
    gmd_calls = run["calls_by_action"].get("cloudwatch:GetMetricData", 0)
    expected = math.ceil(len(queries) / cw.MAX_QUERIES_PER_CALL)
    per_fn = len(queries) / FUNCTIONS
    result = {
        "functions": FUNCTIONS, "aliases_per_function": 1, "step_s": STEP_S, "window_s": COLLECT_EVERY_S,
        "queries": len(queries), "queries_per_function": per_fn,
        "batched": {**run, "get_metric_data_calls": gmd_calls, "expected_ceil_queries_over_500": expected},
        "naive": {"get_metric_data_calls": base["calls"], "wall_s": base["wall_s"]},
        "call_ratio_naive_over_batched": round(base["calls"] / gmd_calls, 1) if gmd_calls else None,
        "wall_ratio_naive_over_batched": round(base["wall_s"] / run["wall_s"], 2) if run["wall_s"] else None,
        "monthly_api_usd_per_function_at_5min": {
            "metrics_only": monthly_usd_per_function(per_fn, score_versions=0),
            "with_score_histogram_1_model_version": monthly_usd_per_function(per_fn, score_versions=1),
        },
        "note": "GetMetricData is billed per metric requested, not per call: batching cuts calls (rate limits, "
                "latency) but not that price. Prediction histograms (200 metrics per model version) are read "
                "once per complete hour; read every 5 minutes they would cost 12x as much.",
    }
    if gmd_calls != expected:
        print(f"FAIL: {gmd_calls} GetMetricData calls, expected {expected}", file=sys.stderr)
    out = ROOT / "bench" / "results" / "aws_api_calls.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0 if gmd_calls == expected else 1


if __name__ == "__main__":
    sys.exit(main())
