"""`inferwatch config check`: validate the config and ask each provider whether it can collect."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Inspect and check inferwatch.toml.", no_args_is_help=True)

    @config_app.command("check")
    def check(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Validate inferwatch.toml (errors name the bad field), then report per provider whether
        credentials are found, the API answers and the permissions suffice. No tracebacks."""
        from collectors.checks import check_providers
        from inferwatch.cli import runtime

        rt = runtime(ctx)
        results = check_providers(rt)
        if as_json:
            typer.echo(json.dumps([r.as_dict() for r in results], indent=2))
        else:
            typer.echo(f"config: {rt.settings.source_path or 'built-in local demo defaults'} is valid")
            for r in results:
                mark = typer.style("ok", fg="green") if r.ok else typer.style("FAIL", fg="red")
                typer.echo(f"  {r.provider:<6} {mark}  {r.detail}")
        if not all(r.ok for r in results):
            raise typer.Exit(1)

    app.add_typer(config_app, name="config")
