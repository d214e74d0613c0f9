"""What Inferwatch adds to the cloud bill per deployment-month, today's telemetry design vs the probe's window
lines, at 1, 10 and 100 requests per second with 30 input features, on AWS and Google Cloud; and how much a
window-mode instance loses when it is frozen or killed before it flushes.

    .venv/bin/python bench/monitoring_bill.py          # writes bench/results/monitoring_bill.json

Measured, not assumed: line sizes come from the real probe serving a real skl2onnx model with 30 features
(tests/collectors/probe_lines.py) in both modes; the bytes a FilterLogEvents read moves per event and the
GetMetricData metrics per collection come from the real collector against moto (tests/collectors/
aws_standin.py); the loss from real probe processes stopped with SIGSTOP and killed with SIGKILL mid-window.
Prices: costs/catalogues/monitoring.json (source URLs and checked date there).

The deployment priced: one Lambda function serving one model through one alias (the reference template's
shape, and bench/aws_api_calls.py's), 1 GB, 100 ms per request; a Cloud Run service with one revision.
Instances: max(1, rps x 0.1 s) busy instances (Little's law), each writing one window line a minute.
Collection every 300 s re-reading 300 s of lateness (so each log line is read twice); today's cloud
metrics at every collection, the new design's every 3,600 s (``[collect] cloud_metrics_interval_s``).
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors import aws_cloudwatch as cw  # noqa: E402
from tests.collectors.aws_standin import boto_client, put_log_lines, shared  # noqa: E402
from tests.collectors.probe_lines import lambda_lines, model  # noqa: E402

MONTH_S = 730 * 3600
RATES = (1, 10, 100)
DURATION_S = 0.1
FLUSH_S = 60
COLLECT_S, LATENESS_S, CLOUD_METRICS_S = 300, 300, 3600
READS_PER_LINE = (COLLECT_S + LATENESS_S) / COLLECT_S
PRICES = json.loads((ROOT / "costs" / "catalogues" / "monitoring.json").read_text(encoding="utf-8"))
REPORT = ("REPORT RequestId: 3f0c9a1e-7b61-11e6-9a41-93e8deadbeef Duration: 102.25 ms Billed Duration: 103 ms "
          "Memory Size: 1024 MB Max Memory Used: 131 MB\n")
GB = 1e9


def line_sizes() -> dict[str, float]:
    """Mean bytes of the real probe's lines: invocation mode as today's reference service writes them (the
    10 standard EMF metrics declared, inputs summarised), window mode at 6, 60 and 600 invocations a window."""
    m = model()
    with tempfile.TemporaryDirectory() as tmp:
        bins = Path(tmp) / "bins.json"
        bins.write_bytes(m.bins)
        # the pre-probe reference service's declarations: 10 metrics over two dimension sets
        invocation = lambda_lines(bins, m.x[:200], function="bill", mode="invocation", metrics="standard")
        out = {"invocation_line_bytes": sum(map(len, invocation)) / len(invocation)}
        for n in (6, 60, 600):
            rows = [m.x[i % len(m.x)] for i in range(n)]
            lines = lambda_lines(bins, rows, function="bill", windows=1)
            out[f"window_line_bytes_{n}_invocations"] = sum(map(len, lines)) / len(lines)
    declared = json.loads(invocation[0])["_aws"]["CloudWatchMetrics"]
    out["invocation_line_custom_metrics"] = sum(len(d["Metrics"]) * len(d["Dimensions"]) for d in declared)
    return out


def read_overhead(window_line: str) -> dict[str, float]:
    """Bytes a FilterLogEvents answer carries per event beyond its message (timestamps, ids, stream name),
    measured on moto's answer to the real client."""
    moto, _ = shared()
    group, stream = "/aws/lambda/bill", "2026/12/07/[$LATEST]0123456789abcdef0123456789abcdef"
    now = datetime.now(UTC)
    put_log_lines(moto.endpoint, group, stream, [(now, REPORT), (now + timedelta(milliseconds=1), window_line)])
    events = boto_client("logs", moto.endpoint).filter_log_events(logGroupName=group)["events"]
    wire = [len(json.dumps(e, separators=(",", ":"))) - len(json.dumps(e["message"])) for e in events]
    return {"filter_log_events_bytes_per_event_overhead": sum(wire) / len(wire),
            "report_line_bytes": float(len(REPORT))}


def queries_per_collection(*, emf: bool) -> int:
    """GetMetricData metrics the collector asks per collection for one function with one alias."""
    fn, whole = "bill", "aws:us-east-1:bill"
    queries = cw.lambda_queries(whole, fn) + cw.lambda_queries(f"{whole}:live", fn, "live")
    return len(queries) + (len(cw.emf_queries(whole, fn)) if emf else 0)


def aws_bill(rps: float, sizes: dict[str, float], overhead: dict[str, float], *, design: str) -> dict[str, float]:
    p = PRICES["aws"]
    requests = rps * MONTH_S
    instances = max(1.0, rps * DURATION_S)
    per_event = overhead["filter_log_events_bytes_per_event_overhead"]
    if design == "today":
        ingest_gb = requests * sizes["invocation_line_bytes"] / GB
        custom = sizes["invocation_line_custom_metrics"] * p["custom_metric_usd_per_month"]
        metrics = MONTH_S / COLLECT_S * queries_per_collection(emf=True)
        hist = MONTH_S / 3600 * (cw_edges() + 1)  # PR(:edge) per edge + SampleCount, hourly, one model version
        gmd = (metrics + hist) * p["get_metric_data_usd_per_metric"] + MONTH_S / 3600 * p["list_metrics_usd_per_request"]
        read_gb = READS_PER_LINE * requests * (overhead["report_line_bytes"] + per_event) / GB  # every REPORT
    else:
        line = window_line_bytes(sizes, rps * FLUSH_S / instances)
        lines = instances * MONTH_S / FLUSH_S
        ingest_gb = lines * line / GB
        custom = 0.0
        gmd = MONTH_S / CLOUD_METRICS_S * queries_per_collection(emf=False) * p["get_metric_data_usd_per_metric"]
        # window lines (re-read for lateness; once more an hour when the cloud metrics are due), and the REPORTs
        # of cold starts only (one per instance-hour, generously)
        reads = (READS_PER_LINE + COLLECT_S / CLOUD_METRICS_S) * lines * (line + per_event)
        read_gb = (reads + READS_PER_LINE * instances * MONTH_S / 3600 * (overhead["report_line_bytes"] + per_event)) / GB
    items = {"custom_metrics_usd": custom, "get_metric_data_usd": gmd,
             "logs_ingestion_usd": ingest_gb * p["logs_ingestion_usd_per_gb"],
             "logs_storage_usd": ingest_gb * p["logs_storage_usd_per_gb_month"],
             "log_reads_usd": 0.0}  # FilterLogEvents has no per-request or per-GB charge
    inside = sum(items.values())
    transfer = read_gb * p["data_transfer_out_usd_per_gb"]
    return {**{k: round(v, 4) for k, v in items.items()}, "ingested_gb": round(ingest_gb, 3),
            "read_gb": round(read_gb, 3), "total_collector_in_aws_usd": round(inside, 4),
            "data_transfer_out_usd": round(transfer, 4), "total_collector_outside_aws_usd": round(inside + transfer, 4)}


def gcp_bill(rps: float, sizes: dict[str, float], *, design: str) -> dict[str, float]:
    p = PRICES["gcp"]
    requests = rps * MONTH_S
    instances = max(1.0, rps * DURATION_S)
    reads = MONTH_S / COLLECT_S * 14  # ListTimeSeries per collection (bench/gcp_calls.py), both designs
    if design == "today":
        ingest = requests * sizes["invocation_line_bytes"] / 2**30
        # the score distribution metric: one point a minute per revision and model version
        custom_mib = MONTH_S / 60 * p["monitoring_distribution_point_bytes"] / 2**20
    else:
        ingest = instances * MONTH_S / FLUSH_S * window_line_bytes(sizes, rps * FLUSH_S / instances) / 2**30
        custom_mib = 0.0
        reads += MONTH_S / COLLECT_S  # one ListLogEntries page per collection (free)
    items = {"logging_ingestion_usd": ingest * p["logging_ingestion_usd_per_gib"],
             "monitoring_custom_metrics_usd": custom_mib * p["monitoring_custom_usd_per_mib"],
             "monitoring_reads_usd": reads * p["monitoring_read_usd_per_call"], "logging_reads_usd": 0.0}
    return {**{k: round(v, 4) for k, v in items.items()}, "ingested_gib": round(ingest, 3),
            "total_usd": round(sum(items.values()), 4),
            "logging_free_gib_per_project_month": p["logging_free_gib_per_project_month"]}


def cw_edges() -> int:
    return 199  # drift.cloud.DEFAULT_CLOUD_EDGES: PR(:edge) queries per model version


def window_line_bytes(sizes: dict[str, float], invocations: float) -> float:
    """The measured size nearest to this many invocations a window (the counts' digits barely matter)."""
    nearest = min((6, 60, 600), key=lambda n: abs(math.log(n) - math.log(max(invocations, 1.0))))
    return sizes[f"window_line_bytes_{nearest}_invocations"]


LOSS_CHILD = """
import os, sys, time, json
from inferwatch_probe import Probe
probe = Probe("loss", "v1", "binary", mode="window", flush_interval_s=float(sys.argv[1]),
              env={"INFERWATCH_TELEMETRY_DIR": sys.argv[2]}, instance_id="loss-" + sys.argv[3])
done = 0
while True:
    with probe.invocation() as inv:
        inv.record(scores=[0.5])
    done += 1
    with open(sys.argv[2] + "/done.tmp-" + sys.argv[3], "w") as f:
        f.write(str(done))
    os.replace(sys.argv[2] + "/done.tmp-" + sys.argv[3], sys.argv[2] + "/done-" + sys.argv[3])
    time.sleep(float(sys.argv[4]))
"""


def measure_loss(*, runs: int = 6, flush_s: float = 1.0, gap_s: float = 0.01) -> dict[str, Any]:
    """Real probe processes (window mode, file sink) serving ~1/gap_s invocations a second, frozen with SIGSTOP
    at a random moment, then killed with SIGKILL (a Lambda environment reclaimed while frozen gets no
    SIGTERM): invocations made vs invocations the written window lines count."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            proc = subprocess.Popen([sys.executable, "-c", LOSS_CHILD, str(flush_s), tmp, str(run), str(gap_s)])
            time.sleep(2.0 + 0.37 * run)  # freeze at a different phase of the window each run
            proc.send_signal(signal.SIGSTOP)
            time.sleep(0.2)
            proc.kill()
            proc.wait()
            made = int(Path(tmp, f"done-{run}").read_text())
            counted = 0
            for path in Path(tmp).glob(f"loss-{run}*.jsonl"):
                for line in path.read_text().splitlines():
                    counted += sum(json.loads(line)["invocations"].values())
            out.append({"made": made, "counted": counted, "lost": made - counted})
    rate = 1 / gap_s
    return {"flush_interval_s": flush_s, "invocations_per_s_approx": rate, "runs": out,
            "max_lost": max(r["lost"] for r in out), "bound_invocations": "<= rate x flush interval",
            "lost_fraction_mean": round(sum(r["lost"] for r in out) / sum(r["made"] for r in out), 4)}


def main() -> int:
    sizes = line_sizes()
    overhead = read_overhead('{"schema":"inferwatch.window/1"}')
    bills: dict[str, Any] = {}
    for rps in RATES:
        bills[f"{rps}_rps"] = {
            "aws": {"today": aws_bill(rps, sizes, overhead, design="today"),
                    "window_lines": aws_bill(rps, sizes, overhead, design="window")},
            "gcp": {"today": gcp_bill(rps, sizes, design="today"), "window_lines": gcp_bill(rps, sizes, design="window")},
            "instances": max(1.0, rps * DURATION_S)}
    goal = bills["10_rps"]["aws"]["window_lines"]["total_collector_outside_aws_usd"]
    result = {"benchmark": "monitoring_bill", "measured_sizes": sizes, "read_overhead": overhead,
              "setup": {"features": 30, "request_duration_s": DURATION_S, "flush_interval_s": FLUSH_S,
                        "collect_every_s": COLLECT_S, "lateness_s": LATENESS_S,
                        "cloud_metrics_interval_s": CLOUD_METRICS_S, "month_s": MONTH_S,
                        "prices_checked": PRICES["checked_date"]},
              "per_deployment_month": bills, "goal_usd_at_10_rps": 0.50, "new_design_at_10_rps_usd": goal,
              "loss": measure_loss()}
    out = ROOT / "bench" / "results" / "monitoring_bill.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0 if goal <= 0.50 else 1


if __name__ == "__main__":
    sys.exit(main())
