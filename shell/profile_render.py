"""What `inferwatch profile` prints: the measurements, the projection as tables, the choices and the model
behind them in plain words (text), or all of it as one JSON document (``--json``)."""

from __future__ import annotations

import textwrap
from dataclasses import asdict
from typing import Any

from costs.pricing import CostBreakdown
from costs.projection import CloudRunOption, LambdaOption, Projection
from shell.profile_run import ProfileResult

COLD_LABELS = (("interpreter_ms", "interpreter start"), ("import_ms", "import numpy + onnxruntime"),
               ("probe_import_ms", "import the probe"),
               ("read_ms", "read the model file"), ("session_ms", "create the session"),
               ("first_inference_ms", "first inference"))


def _cost(c: CostBreakdown) -> dict[str, float]:
    return {"total_usd": round(c.total_usd, 4), "request_usd": round(c.request_usd, 4),
            "compute_usd": round(c.compute_usd, 4), "init_usd": round(c.init_usd, 4)}


def _lambda(o: LambdaOption) -> dict[str, Any]:
    return {"architecture": o.architecture, "memory_mb": o.memory_mb, "vcpus": round(o.vcpus, 3),
            "p50_ms": round(o.p50_ms, 4), "p95_ms": round(o.p95_ms, 4), "mean_ms": round(o.mean_ms, 4),
            "cold_start_ms": round(o.cold_start_ms, 1),
            "concurrent_environments": round(o.concurrent_environments, 3), "monthly": _cost(o.monthly),
            "fits_memory": o.fits_memory, "meets_slo": o.meets_slo}


def _cloud_run(o: CloudRunOption) -> dict[str, Any]:
    return {"vcpu": o.vcpu, "memory_mb": o.memory_mb, "concurrency": o.concurrency, "instances": o.instances,
            "p95_ms": round(o.p95_ms, 4), "cold_start_ms": round(o.cold_start_ms, 1),
            "monthly_request_based": _cost(o.request_based), "monthly_instance_based": _cost(o.instance_based),
            "fits_memory": o.fits_memory, "meets_slo": o.meets_slo}


def projection_dict(result: ProfileResult, p: Projection) -> dict[str, Any]:
    """The profile and the projection as one JSON-ready document."""
    run_choice = p.cloud_run_choice
    return {
        "model": str(result.model), "data": str(result.data), "rows": result.rows, "task": result.task,
        "host_cpus": result.host_cpus,
        "measured": {
            "cold_start_ms": {k: round(v, 3) for k, v in result.cold_start.items()},
            "cold_start_totals_ms": [round(v, 3) for v in result.cold_start_totals_ms],
            "peak_memory_mb": round(result.peak_memory_mb, 1),
            "latency": [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(b).items()}
                        for b in result.batches],
            "request": {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(result.request).items()},
            "throughput_rps": round(result.throughput_rps, 1), "throughput_mode": result.throughput_mode,
        },
        "settings": {k: v for k, v in asdict(p.settings).items() if k != "lambda_memory_mb"},
        "lambda": {"options": [_lambda(o) for o in p.lambda_options],
                   "chosen": {arch: (_lambda(o) if o is not None else None) for arch, o in p.lambda_choices.items()}},
        "cloud_run": {"options": [_cloud_run(o) for o in p.cloud_run_options],
                      "chosen": None if run_choice is None else {**_cloud_run(run_choice.option),
                                                                 "billing_mode": run_choice.billing_mode,
                                                                 "monthly_usd": round(run_choice.monthly_usd, 4)}},
        "model_behind_projection": list(p.model),
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]


def _measured_lines(r: ProfileResult) -> list[str]:
    lines = [f"Profile of {r.model.name} on {r.data.name} ({r.rows:,} rows), measured on this machine "
             f"({r.host_cpus} CPUs), each process as an emulator instance runs it (one inference thread)",
             "",
             f"Cold start: {r.cold_start['total_ms']:,.0f} ms (the median of {len(r.cold_start_totals_ms)} fresh "
             f"processes, spawn to first answer)"]
    lines += [f"  {label:<28}{r.cold_start[key]:>10,.1f} ms" for key, label in COLD_LABELS]
    lines += [f"Peak memory (RSS): {r.peak_memory_mb:,.0f} MB", "",
              "Latency of the model per batch size (warm, rows drawn from the data):"]
    lines += _table(["batch", "runs", "p50 ms", "p95 ms", "mean ms", "CPU/wall"],
                    [[str(b.batch_size), f"{b.runs:,}", f"{b.p50_ms:.3f}", f"{b.p95_ms:.3f}", f"{b.mean_ms:.3f}",
                      f"{min(1.0, b.cpu_mean_ms / b.mean_ms):.0%}"] for b in r.batches])
    q = r.request
    lines += [f"A request of one row through the service (parse the JSON body, run the model, answer): p50 "
              f"{q.p50_ms:.3f} ms, p95 {q.p95_ms:.3f} ms, {min(1.0, q.cpu_mean_ms / q.mean_ms):.0%} CPU "
              f"({q.runs:,} runs)",
              f"Throughput per instance: {r.throughput_rps:,.0f} requests/s (those requests, sent one after another "
              "by one thread)"]
    return lines


def _mark(o: LambdaOption | CloudRunOption) -> str:
    return "" if o.fits_memory and o.meets_slo else " (too small)" if not o.fits_memory else " (misses SLO)"


def _lambda_lines(p: Projection) -> list[str]:
    by = {(o.architecture, o.memory_mb): o for o in p.lambda_options}
    sizes = sorted({o.memory_mb for o in p.lambda_options})
    chosen = {(o.architecture, o.memory_mb) for o in p.lambda_choices.values() if o is not None}
    rows = []
    for m in sizes:
        x, a = by[("x86_64", m)], by[("arm64", m)]
        flag = "*" if ("x86_64", m) in chosen or ("arm64", m) in chosen else ""
        rows.append([f"{flag}{m:,}", f"{x.vcpus:.2f}", f"{x.p95_ms:.3f}", f"{a.p95_ms:.3f}", f"{x.cold_start_ms:,.0f}",
                     f"{x.monthly_usd:,.2f}", f"{a.monthly_usd:,.2f}", _mark(x).strip(" ()") or "ok"])
    lines = ["Lambda (* chosen):"]
    lines += _table(["memory MB", "vCPU", "x86 p95 ms", "arm p95 ms", "cold start ms", "x86 $/month",
                     "arm $/month", ""], rows)
    for arch, o in p.lambda_choices.items():
        if o is None:
            lines.append(f"  {arch}: no memory size holds the model ({p.profile.peak_memory_mb:,.0f} MB peak)")
        else:
            lines.append(f"  {arch}: {o.memory_mb:,} MB, p95 {o.p95_ms:.3f} ms, cold start {o.cold_start_ms:,.0f} ms, "
                         f"${o.monthly_usd:,.2f}/month, {o.concurrent_environments:.3g} requests in flight on average"
                         f"{_mark(o)}")
    return lines


def _cloud_run_lines(p: Projection) -> list[str]:
    rows = [[f"{o.vcpu:g}", f"{o.memory_mb:,}", str(o.concurrency), str(o.instances), f"{o.p95_ms:.3f}",
             f"{o.cold_start_ms:,.0f}",
             f"{o.request_based.total_usd:,.2f}", f"{o.instance_based.total_usd:,.2f}",
             _mark(o).strip(" ()") or "ok"] for o in p.cloud_run_options]
    lines = [f"Cloud Run ({p.settings.cloud_run_region}):"]
    lines += _table(["vCPU", "memory MiB", "concurrency", "instances", "p95 ms", "cold start ms",
                     "request-based $/month", "instance-based $/month", ""], rows)
    c = p.cloud_run_choice
    if c is None:
        lines.append("  no size holds the model")
    else:
        o = c.option
        lines.append(f"  chosen: {o.vcpu:g} vCPU, {o.memory_mb:,} MiB, concurrency {o.concurrency}, "
                     f"{o.instances} instance(s), {c.billing_mode}-based billing, ${c.monthly_usd:,.2f}/month"
                     f"{_mark(o)}")
    return lines


def render_text(result: ProfileResult, p: Projection) -> str:
    s = p.settings
    lines = _measured_lines(result)
    lines += ["", f"Projection at {s.rps:g} requests/s of one row, p95 SLO {s.slo_p95_ms:g} ms:", ""]
    lines += _lambda_lines(p) + [""] + _cloud_run_lines(p)
    lines += ["", "The model behind the projection:"]
    lines += [textwrap.fill(line, 110, initial_indent="  - ", subsequent_indent="    ") for line in p.model]
    return "\n".join(lines)
