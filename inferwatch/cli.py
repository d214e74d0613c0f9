"""The ``inferwatch`` command. Each verb lives in a module of ``inferwatch.commands`` that exposes
``register(app)``; this file only assembles them and turns known errors into one clear line."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from inferwatch.errors import ConfigError
from inferwatch.runtime import Runtime

HELP = """Watch ONNX models served from AWS Lambda, Google Cloud Run and a local emulator.

Start with `inferwatch demo`: a real ONNX function in a local emulator with real cold starts, traffic,
collection, alerts and the dashboard at http://127.0.0.1:8501. Point it at your own accounts with
an inferwatch.toml (see `inferwatch config check --help`).
"""

COMMAND_MODULES = (
    "inferwatch.commands.demo_cmd",
    "inferwatch.commands.collect_cmd",
    "inferwatch.commands.config_cmd",
    "inferwatch.commands.dashboard_cmd",
    "inferwatch.commands.service",
    "inferwatch.commands.drift_cmd",
    "inferwatch.commands.costs_cmd",
    "inferwatch.commands.alerts_cmd",
)

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


app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
                  cls=_RootGroup, pretty_exceptions_show_locals=False)  # locals could hold secrets


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(help="inferwatch.toml to use (default: $INFERWATCH_CONFIG or ./inferwatch.toml).")] = None,
    home: Annotated[Path | None, typer.Option(help="State folder (default: $INFERWATCH_HOME or ./.inferwatch).")] = None,
) -> None:
    ctx.obj = {"config": config, "home": home}


def runtime(ctx: typer.Context) -> Runtime:
    """The Runtime for a command: explicit --config/--home beat the environment. Every verb gets
    it here, so a config any part of Inferwatch refuses stops every verb the same way: one line
    naming the field, exit 2."""
    root = ctx.find_root()
    opts = root.obj or {}
    try:
        return Runtime.from_env(config=opts.get("config"), home=opts.get("home"))
    except ConfigError as exc:
        typer.secho(f"inferwatch: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command module not written yet
                continue
            raise
        module.register(app)


_register_all()


def main(argv: Sequence[str] | None = None) -> None:
    """The console script; ``argv`` (default: the command line) lets tests run it in-process."""
    from collectors.errors import CollectorError
    from inferwatch.errors import InferwatchError
    from inferwatch.paths import os_problem
    from inferwatch.store import StoreError

    try:
        app(args=None if argv is None else list(argv))
    except (InferwatchError, StoreError, CollectorError) as exc:
        typer.secho(f"inferwatch: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except OSError as exc:
        # Paths are checked where they enter (inferwatch.paths); a file the system still refuses
        # (a folder where a file was expected, no permission, a full disk) is the user's to fix too.
        if exc.filename is None:
            raise
        typer.secho(f"inferwatch: {exc.filename}: {os_problem(exc)}", fg=typer.colors.RED, err=True)
        sys.exit(2)
