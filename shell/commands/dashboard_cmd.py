"""`inferwatch dashboard`: serve the Streamlit dashboard."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from shell.commands.context import runtime
from shell.dashboard_server import start_dashboard


def register(app: typer.Typer) -> None:
    @app.command()
    def dashboard(
        ctx: typer.Context,
        address: Annotated[str | None,
                           typer.Option(help="Bind address (default from inferwatch.toml: 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default 8501).")] = None,
        secrets: Annotated[Path, typer.Option(
            help="The secrets.toml holding the [auth] table: the only secrets file the dashboard reads.")] = Path(
            ".streamlit/secrets.toml"),
    ) -> None:
        """Serve the dashboard on 127.0.0.1:8501 (reads the store, collects nothing).

        Binding any address other than loopback requires authentication: an [auth] table in
        .streamlit/secrets.toml (or the file --secrets names) for Streamlit's OIDC login; without it the
        command refuses to start. Streamlit then reads that file and no other secrets file.
        """
        rt = runtime(ctx)
        addr = address or rt.settings.dashboard.address
        prt = port or rt.settings.dashboard.port
        env = {"INFERWATCH_HOME": str(rt.home)}
        proc = start_dashboard(addr, prt, env=env, log_path=rt.home / "logs" / "dashboard.log", secrets_path=secrets)
        typer.echo(f"dashboard on http://{addr}:{prt} (logs: {rt.home / 'logs' / 'dashboard.log'}); Ctrl-C stops it")
        # SIGTERM (systemd, a supervisor, a test) stops Streamlit too, as Ctrl-C does: it runs in its
        # own process group, so it would otherwise outlive this command.
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            proc.wait()
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
