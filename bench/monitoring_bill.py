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

from collectors import aws_cloudwatch as cw
from collectors.gcp_monitoring import QUERIES
from costs.monitoring_bill import Measured, Workload, bills, load_monitoring_prices
from tests.collectors.aws_standin import boto_client, put_log_lines, shared
from tests.collectors.probe_lines import lambda_lines, model

RATES = (1, 10, 100)
SCORE_EDGES = 199  # drift.cloud.DEFAULT_CLOUD_EDGES: today's PR(:edge) queries per model version and hour
GCP_READS = len(QUERIES) + 1  # ListTimeSeries per collection (the prediction distribution included)
REPORT = ("REPORT RequestId: 3f0c9a1e-7b61-11e6-9a41-93e8deadbeef Duration: 102.25 ms Billed Duration: 103 ms "
          "Memory Size: 1024 MB Max Memory Used: 131 MB\n")


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


def measured(rps: float, sizes: dict[str, float], overhead: dict[str, float]) -> Measured:
    w = Workload(rps)
    return Measured(
        invocation_line_bytes=sizes["invocation_line_bytes"],
        declared_custom_metrics=int(sizes["invocation_line_custom_metrics"]),
        window_line_bytes=window_line_bytes(sizes, rps * w.flush_s / w.instances),
        event_overhead_bytes=overhead["filter_log_events_bytes_per_event_overhead"],
        report_line_bytes=overhead["report_line_bytes"], metric_queries=queries_per_collection(emf=False),
        emf_queries=queries_per_collection(emf=True) - queries_per_collection(emf=False),
        histogram_queries_per_hour=SCORE_EDGES + 1, gcp_reads_per_collection=GCP_READS)


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


def _loss_run(tmp: str, run: int, *, flush_s: float, gap_s: float, sigterm: bool) -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, "-c", LOSS_CHILD, str(flush_s), tmp, str(run), str(gap_s)])
    while not Path(tmp, f"done-{run}").exists():  # serving (the probe's import took its time)
        time.sleep(0.01)
    started = time.monotonic()
    time.sleep(1.5 + 0.37 * run)  # stop at a different phase of the window each run
    if sigterm:  # Cloud Run stops an instance with SIGTERM: the probe writes its window then
        proc.terminate()
        proc.wait()
        served_s = time.monotonic() - started
    else:  # a Lambda environment reclaimed while frozen: no SIGTERM, no exit hook
        proc.send_signal(signal.SIGSTOP)
        served_s = time.monotonic() - started
        time.sleep(0.2)
        proc.kill()
        proc.wait()
    made = int(Path(tmp, f"done-{run}").read_text())
    counted = sum(sum(json.loads(line)["invocations"].values())
                  for path in Path(tmp).glob(f"loss-{run}*.jsonl") for line in path.read_text().splitlines())
    rate = made / served_s
    bound = math.ceil(rate * flush_s) + 1  # the open window, and the invocation in flight
    return {"stop": "SIGTERM" if sigterm else "SIGSTOP then SIGKILL", "made": made, "counted": counted,
            "lost": made - counted, "served_s": round(served_s, 2), "invocations_per_s": round(rate, 1),
            "bound": bound, "within_bound": made - counted <= bound}


def measure_loss(*, runs: int = 6, flush_s: float = 1.0, gap_s: float = 0.01) -> dict[str, Any]:
    """Real probe processes (window mode, file sink) serving about 1/gap_s invocations a second, frozen with
    SIGSTOP at a different moment of the window each run and then killed with SIGKILL, and two stopped with
    SIGTERM: invocations made vs invocations the written window lines count."""
    with tempfile.TemporaryDirectory() as tmp:
        killed = [_loss_run(tmp, run, flush_s=flush_s, gap_s=gap_s, sigterm=False) for run in range(runs)]
        terminated = [_loss_run(tmp, runs + i, flush_s=flush_s, gap_s=gap_s, sigterm=True) for i in range(2)]
    return {"flush_interval_s": flush_s, "killed": killed, "terminated": terminated,
            "max_lost_killed": max(r["lost"] for r in killed), "lost_terminated": sum(r["lost"] for r in terminated),
            "all_within_bound": all(r["within_bound"] for r in killed + terminated),
            "bound": "the invocations since the instance's last window line: at most rate x flush interval",
            "lost_fraction_of_these_short_runs": round(sum(r["lost"] for r in killed) / sum(r["made"] for r in killed),
                                                       4),
            "lost_fraction_bound_for_an_instance_living_L_s": "flush_interval_s / L (60 s flushes, 1 h life: 1.7%)"}


def main() -> int:
    sizes = line_sizes()
    overhead = read_overhead('{"schema":"inferwatch.window/1"}')
    prices = load_monitoring_prices()
    per_rate = {f"{rps}_rps": bills(Workload(rps), measured(rps, sizes, overhead), prices) for rps in RATES}
    goal = per_rate["10_rps"]["aws"]["window_lines"]["total_collector_outside_aws_usd"]
    gcp_goal = per_rate["10_rps"]["gcp"]["window_lines"]["total_usd"]
    w = Workload(10)
    result = {"benchmark": "monitoring_bill", "measured_sizes": sizes, "read_overhead": overhead,
              "setup": {"features": 30, "request_s": w.request_s, "flush_s": w.flush_s, "collect_s": w.collect_s,
                        "lateness_s": w.lateness_s, "cloud_metrics_interval_s": w.cloud_metrics_s,
                        "month_s": w.month_s, "prices_checked": prices.checked_date,
                        "aws_prices": prices.aws.source_url, "gcp_prices": prices.gcp.source_url},
              "per_deployment_month": per_rate, "goal_usd_at_10_rps": 0.50,
              "new_design_at_10_rps_usd": {"aws_collector_outside_aws": goal, "gcp": gcp_goal},
              "loss": measure_loss()}
    out = ROOT / "bench" / "results" / "monitoring_bill.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0 if max(goal, gcp_goal) <= 0.50 else 1


if __name__ == "__main__":
    sys.exit(main())
