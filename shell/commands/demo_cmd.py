"""`inferwatch demo`: the whole product on this machine, no cloud account needed."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from shell.commands.context import runtime
from shell.demo import DemoOptions, run_demo


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
    ) -> None:
        """Start the local demo stack: the reference ONNX function in an emulator (v1 stable with a v2 canary,
        and a reports service keeping warm instances it hardly uses; each instance a real process with real
        cold starts), a load generator, collection every 10 s into the store, the alert job every minute
        into the file sink, and the dashboard.

        Everything it starts stops on Ctrl-C or at the end of --duration. Then try
        `inferwatch status`, `inferwatch drift check`, `inferwatch advise`, `inferwatch report weekly`.
        """
        rt = runtime(ctx)
        options = DemoOptions(duration_s=duration, dashboard=dashboard, rate_rps=rate, drift_after_s=drift_after,
                              malformed_fraction=malformed)
        report = run_demo(rt, options, echo=typer.echo)
        typer.echo("demo stopped: " + json.dumps({"requests": report.requests, "collections": report.collections,
                                                  "instances_started": report.instances_started}))
