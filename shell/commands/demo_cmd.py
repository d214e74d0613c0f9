"""`inferwatch demo`: the whole product on this machine, no cloud account needed, on the reference models
or on your own (`--model`, `--data`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from shell.commands.context import runtime
from shell.demo import DemoOptions, run_demo


def _paired(option: str, values: list[str] | None, n: int) -> list[str | None]:
    """One value per model: given once for all, or once per --model in order."""
    if not values:
        return [None] * n
    if len(values) == 1:
        return [values[0]] * n
    if len(values) != n:
        raise typer.BadParameter(f"{option}: give it once, or once per --model ({n})")
    return list(values)


def own_specs(models: list[Path], data: list[Path] | None, services: list[str] | None, version: str,
              tasks: list[str] | None, input_names: list[str] | None, labels: list[str] | None,
              drift_features: str | None) -> list[Any]:
    from shell.own_demo import OwnModelSpec, service_name  # pandas (reference data): 0.5 s, only with --model

    if not data or len(data) != len(models):
        raise typer.BadParameter("--model needs --data, one per --model (your reference data, CSV or Parquet)")
    if services and len(services) != len(models):
        raise typer.BadParameter("--service: once per --model")
    named: list[str | None] = list(services) if services else [None] * len(models)
    drifted = tuple(f.strip() for f in drift_features.split(",") if f.strip()) if drift_features else None
    return [OwnModelSpec(m.resolve(), d, named[i] or service_name(m), version, t, inp, lab, drifted)
            for i, (m, d, t, inp, lab) in enumerate(zip(models, data, _paired("--task", tasks, len(models)),
                                                        _paired("--input-name", input_names, len(models)),
                                                        _paired("--label-column", labels, len(models)),
                                                        strict=True))]


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        duration: Annotated[float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).",
                                                       min=5)] = None,
        dashboard: Annotated[bool, typer.Option("--dashboard/--no-dashboard",
                                                help="Also serve the dashboard on 127.0.0.1:8501.")] = True,
        rate: Annotated[float, typer.Option(help="Requests per second per service.", min=0.1, max=200)] = 8.0,
        drift_after: Annotated[float | None, typer.Option(
            help="Shift the inputs after this many seconds, so there is drift to detect.")] = 300.0,
        malformed: Annotated[float, typer.Option(help="Share of malformed requests (answered 400).", min=0,
                                                 max=1)] = 0.02,
        model: Annotated[list[Path] | None, typer.Option(
            help="Your ONNX model instead of the reference ones (repeat for several, each with its --data).")] = None,
        data: Annotated[list[Path] | None, typer.Option(
            help="Reference data of --model (CSV with a header, or Parquet): its baseline, and the rows the "
                 "traffic is drawn from.")] = None,
        service: Annotated[list[str] | None, typer.Option(
            help="Service name of each --model (default: the model file's name).")] = None,
        model_version: Annotated[str, typer.Option(help="Version name of your models.")] = "1",
        task: Annotated[list[str] | None, typer.Option(
            help="binary, multiclass or regression (default: read from the model's outputs).")] = None,
        input_name: Annotated[list[str] | None, typer.Option(help="The model input the rows go to.")] = None,
        label_column: Annotated[list[str] | None, typer.Option(
            help="A column of --data with the true labels (left out of the traffic; calibrates classifiers).")
        ] = None,
        drift_features: Annotated[str | None, typer.Option(
            help="Columns the drift switch shifts, comma-separated (default: one numeric and one string "
                 "column).")] = None,
    ) -> None:
        """Start the local demo stack: the reference ONNX function in an emulator (v1 stable with a v2 canary,
        and a reports service keeping warm instances it hardly uses; each instance a real process with real
        cold starts), a load generator, collection every 10 s into the store, the alert job every minute
        into the file sink, and the dashboard. With --model and --data: the same stack on your own model,
        its baseline made from your data and its traffic drawn from your data's rows.

        Everything it starts stops on Ctrl-C or at the end of --duration. Then try
        `inferwatch status`, `inferwatch drift check`, `inferwatch advise`, `inferwatch report weekly`.
        """
        rt = runtime(ctx)
        options = DemoOptions(duration_s=duration, dashboard=dashboard, rate_rps=rate, drift_after_s=drift_after,
                              malformed_fraction=malformed)
        own = None
        if model:
            from shell.own_demo import own_models_runtime  # pandas (reference data): 0.5 s, only with --model

            specs = own_specs(model, data, service, model_version, task, input_name, label_column, drift_features)
            rt, own = own_models_runtime(rt, specs, typer.echo)
        elif data:
            raise typer.BadParameter("--data goes with --model")
        report = run_demo(rt, options, echo=typer.echo, own=own)
        typer.echo("demo stopped: " + json.dumps({"requests": report.requests, "collections": report.collections,
                                                  "instances_started": report.instances_started}))
