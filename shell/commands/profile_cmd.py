"""`inferwatch profile --model M --data D`: before you deploy, measure your model here (cold start in parts,
peak memory, latency per batch size, throughput per instance) and project p95 latency and monthly cost on
Lambda (x86_64 and arm64, across memory sizes) and Cloud Run (both billing modes) at your traffic, with
the configuration it would choose and the model behind the projection in plain words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from costs.projection import Projection, ProjectionSettings, project
from shell.commands.context import runtime
from shell.exits import CommandError
from shell.profile_render import projection_dict, render_text
from shell.profile_run import ProfileRequest, ProfileResult, run_profile

MAX_BATCH_SIZE = 100_000


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """``1,8,32`` as batch sizes; CommandError naming --batch-sizes otherwise."""
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise CommandError(f"--batch-sizes {text!r}: expected whole numbers separated by commas, e.g. 1,8,32") from exc
    if not sizes or sizes[0] < 1 or sizes[-1] > MAX_BATCH_SIZE:
        raise CommandError(f"--batch-sizes {text!r}: each size must be within 1..{MAX_BATCH_SIZE:,}")
    return sizes


def _check_effort(duration_s: float, cold_starts: int) -> None:
    if not 0.5 <= duration_s <= 600:
        raise CommandError(f"--duration-s: {duration_s!r} is outside 0.5..600")
    if not 1 <= cold_starts <= 20:
        raise CommandError(f"--cold-starts: {cold_starts!r} is outside 1..20")


def _measure(request: ProfileRequest, quiet: bool) -> ProfileResult:
    steps = request.cold_starts + len({1, *request.batch_sizes}) + 2  # cold starts, batches, request, throughput
    with Progress(console=Console(stderr=True), transient=True, disable=quiet) as progress:
        task = progress.add_task("profiling: first cold start", total=steps)

        def on_event(event: dict[str, Any]) -> None:
            kind = event["event"]
            if kind == "done":
                return
            progress.advance(task)
            label = {"cold": "cold start", "batch": f"batch {event.get('batch_size')}",
                     "request": "request latency", "throughput": "throughput"}[kind]
            progress.update(task, description=f"profiling: {label} measured")

        return run_profile(request, on_event)


def register(app: typer.Typer) -> None:
    @app.command()
    def profile(
        ctx: typer.Context,
        model: Annotated[Path, typer.Option(help="Your ONNX model.")],
        data: Annotated[Path, typer.Option(help="Reference data (CSV with a header, or Parquet): the rows fed.")],
        rps: Annotated[float, typer.Option(help="Traffic to project: requests (of one row) per second.")] = 10.0,
        slo_ms: Annotated[float, typer.Option(help="p95 latency SLO the chosen configuration must meet.")] = 100.0,
        max_cold_start_ms: Annotated[float | None, typer.Option(
            help="Also require the cold start to take at most this long (default: no limit).")] = None,
        batch_sizes: Annotated[str, typer.Option(help="Batch sizes to measure, comma-separated.")] = "1,8,32",
        duration_s: Annotated[float, typer.Option(help="Seconds of warm measuring (latency and throughput).")
                              ] = 10.0,
        cold_starts: Annotated[int, typer.Option(help="Fresh processes whose cold start is measured.")] = 3,
        arm64_factor: Annotated[float, typer.Option(
            help="CPU time on arm64 / on x86_64 (1.0: as fast; measure it on an arm64 machine).")] = 1.0,
        cold_start_share: Annotated[float, typer.Option(help="Share of requests meeting a cold start.")] = 0.01,
        headroom: Annotated[float, typer.Option(help="Memory kept above the peak measured (0.3 = 30%).")] = 0.30,
        aws_region: Annotated[str | None, typer.Option(help="Lambda prices of this region.")] = None,
        gcp_region: Annotated[str, typer.Option(help="Cloud Run prices of this region.")] = "us-central1",
        task: Annotated[str | None, typer.Option(
            help="binary, multiclass or regression (default: read from the model's outputs).")] = None,
        input_name: Annotated[str | None, typer.Option(help="The model input the rows go to.")] = None,
        label_column: Annotated[str | None, typer.Option(help="A column of --data to leave out (the labels).")
                                ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the profile and projection as JSON.")] = False,
    ) -> None:
        """Measure your model in fresh processes, as an emulator instance loads and runs it (cold start split
        into interpreter start, imports, model read, session creation and first inference; peak memory;
        latency per batch size; requests per second one instance sustains), then project p95 latency and
        monthly cost at --rps on Lambda (x86_64 and arm64, 128 MB to 10,240 MB) and Cloud Run (request- and
        instance-based billing), with the memory, concurrency and billing it would choose. The output states
        the model behind the projection. Takes about --duration-s plus a second per cold start.
        """
        rt = runtime(ctx)
        settings = ProjectionSettings(rps=rps, slo_p95_ms=slo_ms, arm64_factor=arm64_factor,
                                      memory_headroom=headroom, cold_start_share=cold_start_share,
                                      lambda_region=aws_region, cloud_run_region=gcp_region,
                                      max_cold_start_ms=max_cold_start_ms)
        _check_effort(duration_s, cold_starts)
        request = ProfileRequest(model, data, parse_batch_sizes(batch_sizes), duration_s, cold_starts, input_name,
                                 label_column, task)
        result = _measure(request, quiet=as_json)
        projection: Projection = project(result.measured(), settings, rt.sections.prices)
        if as_json:
            typer.echo(json.dumps(projection_dict(result, projection), indent=2))
        else:
            typer.echo(render_text(result, projection))
