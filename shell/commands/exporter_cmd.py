"""`inferwatch exporter`: serve the kept numbers to Prometheus on /metrics."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from shell.commands.context import runtime
from shell.exits import CommandError
from shell.exporter import DEFAULT_PORT, TOKEN_ENV, Exporter, ExporterOptions, make_server


def register(app: typer.Typer) -> None:
    @app.command()
    def exporter(
        ctx: typer.Context,
        address: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = DEFAULT_PORT,
        drift_signals: Annotated[int, typer.Option(
            min=0, max=50, help="At most this many drift signals per deployment (the most flagged first).")] = 3,
        tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve HTTPS.")] = None,
        tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    ) -> None:
        """Serve Inferwatch's numbers to Prometheus on http://127.0.0.1:9477/metrics (reads the store, collects
        nothing: run `inferwatch collect` or the demo beside it).

        Binding any address other than loopback requires a bearer token in the environment variable
        INFERWATCH_EXPORTER_TOKEN; with it set, every request must send `Authorization: Bearer <token>`.
        See docs/integrations.md for the scrape config, the Grafana dashboard and the metric names.
        """
        rt = runtime(ctx)
        if (tls_cert is None) != (tls_key is None):
            raise CommandError("--tls-cert and --tls-key go together")
        options = ExporterOptions(address=address, port=port, token=rt.env.get(TOKEN_ENV) or None,
                                  tls_cert=tls_cert, tls_key=tls_key, drift_signals=drift_signals)
        served = Exporter(rt.store_url, rt.settings, drift_signals=drift_signals)
        try:
            server = make_server(served, options)
        except OSError as exc:  # the port is taken, the address is not this machine's, the TLS files are unreadable
            raise CommandError(f"cannot serve on {address}:{port}: {exc.strerror or exc}") from exc
        scheme = "https" if tls_cert else "http"
        auth = " (bearer token required)" if options.token else ""
        typer.echo(f"metrics on {scheme}://{address}:{server.server_address[1]}/metrics{auth}; Ctrl-C stops it")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            served.close()
