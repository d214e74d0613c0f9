"""The ``inferwatch`` command. Each verb lives in a module of ``shell.commands`` that exposes
``register(app)``; this file only assembles them, and turns every known error into one clear line and
an exit code (``shell.exits``), whether the command runs from the console or in-process."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from shell.commands import (
    alerts_cmd,
    baseline_cmd,
    collect_cmd,
    config_cmd,
    costs_cmd,
    dashboard_cmd,
    demo_cmd,
    drift_cmd,
    exporter_cmd,
    labels_cmd,
    profile_cmd,
    quality_cmd,
    service,
    setup_cmd,
    telemetry_cmd,
)
from shell.exits import describe

HELP = """Watch ONNX models served from AWS Lambda, Google Cloud Run and a local emulator.

Start with `inferwatch demo`: a real ONNX function in a local emulator with real cold starts, traffic,
collection, alerts and the dashboard at http://127.0.0.1:8501. Point it at your own accounts with
an inferwatch.toml (see `inferwatch config check --help`).
"""

COMMAND_MODULES = (demo_cmd, collect_cmd, config_cmd, dashboard_cmd, service, baseline_cmd, drift_cmd, quality_cmd,
                   labels_cmd, costs_cmd, alerts_cmd, setup_cmd, telemetry_cmd, profile_cmd, exporter_cmd)

_CODE_SPAN = re.compile(r"(`+[^`]*`+)")


def markdown_literal(text: str) -> str:
    """``text`` for Typer's Markdown help (kept for its `code` spans): outside code spans each ``<`` is
    escaped, since Markdown reads ``<home>`` or ``<name>`` as an HTML tag and the renderer drops it."""
    parts = _CODE_SPAN.split(text)
    return "".join(part if i % 2 else part.replace("<", "\\<") for i, part in enumerate(parts))


def _escape_help(command: Any) -> None:  # Typer's vendored click objects: duck-typed
    for holder in [command, *command.params]:
        for attr in ("help", "short_help"):
            if getattr(holder, attr, None):
                setattr(holder, attr, markdown_literal(getattr(holder, attr)))
    for sub in getattr(command, "commands", {}).values():
        _escape_help(sub)


class _RootGroup(TyperGroup):
    """The root command; Typer builds the tree bottom-up, so here every command and option below
    exists, and each help text is escaped exactly once per build."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _escape_help(self)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a known error becomes its one line and exit code (``shell.exits``)."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            described = describe(exc)
            if described is None:
                raise
            message, code = described
            typer.secho(f"inferwatch: {message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code) from exc


app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
                  cls=_RootGroup, pretty_exceptions_show_locals=False)  # locals could hold secrets


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(
        help="inferwatch.toml to use (default: $INFERWATCH_CONFIG or ./inferwatch.toml).")] = None,
    home: Annotated[Path | None,
                    typer.Option(help="State folder (default: $INFERWATCH_HOME or ./.inferwatch).")] = None,
) -> None:
    ctx.obj = {"config": config, "home": home}


for _module in COMMAND_MODULES:
    _module.register(app)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script; ``argv`` (default: the command line) lets tests run it in-process."""
    app(args=None if argv is None else list(argv))
