"""What every verb gets from the command line: the Runtime, with explicit ``--config``/``--home`` beating
the environment."""

from __future__ import annotations

import typer

from shell.runtime import Runtime


def runtime(ctx: typer.Context) -> Runtime:
    """The Runtime for a command. Every verb gets it here, so a config any part of Inferwatch refuses
    stops every verb the same way: one line naming the field, exit 2 (``shell.exits``)."""
    opts = ctx.find_root().obj or {}
    return Runtime.from_env(config=opts.get("config"), home=opts.get("home"))
