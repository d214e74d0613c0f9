"""`inferwatch serve` (the Cloud Run adapter on 127.0.0.1) and `inferwatch dlq list|replay` (the local
dead-letter queue under <home>/dlq)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from inferwatch.names import check_name
from reference_service.dlq import DurableQueue
from reference_service.errors import ModelLoadError
from reference_service.onnx_file import card_for, infer_task, read_model_file
from shell.commands.context import runtime
from shell.exits import CommandError


def _queue_path(ctx: typer.Context) -> Path:
    return runtime(ctx).home / "dlq" / "queue.sqlite3"


def _post(url: str, payload: bytes, timeout_s: float) -> int:
    req = urllib.request.Request(url, data=payload, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def _own_model_env(model: Path, task: str | None, input_name: str | None, feature_names: str | None,
                   service: str | None) -> dict[str, str]:
    """The variables that make the service serve your model (its task read from the model when not given)."""
    try:
        described, session = read_model_file(model)
        card = card_for(described, version="model", task=task or "multiclass", input_name=input_name,
                        feature_names=feature_names.split(",") if feature_names else None)
        task = task or infer_task(described, session)
    except ModelLoadError as exc:
        raise CommandError(f"--model {exc.path}: {exc.reason}") from exc
    env = {"INFERWATCH_MODEL_PATH": str(model.resolve()), "INFERWATCH_TASK": task}
    if input_name:
        env["INFERWATCH_INPUT_NAME"] = input_name
    if feature_names:
        env["INFERWATCH_FEATURE_NAMES"] = json.dumps(list(card.feature_names))
    if service:
        env["INFERWATCH_SERVICE"] = service
    return env


def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8080,
    model_version: Annotated[str | None, typer.Option(
        help="Model version to serve: v1 or v2, or the version name of --model (default 1).")] = None,
    deployment: Annotated[str | None,
                          typer.Option(help="Deployment name in telemetry (default local-<version>).")] = None,
    shadow_version: Annotated[str | None, typer.Option(help="Also score every request with this version.")] = None,
    concurrency: Annotated[int, typer.Option(help="Max in-flight requests; above 1 micro-batching is on.")] = 4,
    model: Annotated[Path | None, typer.Option(help="Serve your own ONNX model instead of a reference one.")] = None,
    task: Annotated[str | None, typer.Option(help="With --model: binary, multiclass or regression (default: "
                                                  "read from the model's outputs).")] = None,
    input_name: Annotated[str | None, typer.Option(help="With --model: the input the rows go to.")] = None,
    feature_names: Annotated[str | None, typer.Option(help="With --model: names of its 2-D input's columns, "
                                                           "comma-separated (as your baseline names them).")] = None,
    service: Annotated[str | None, typer.Option(help="Service name in telemetry (default: the deployment).")] = None,
) -> None:
    """Run the reference service's Cloud Run adapter on 127.0.0.1 to try it by hand:
    POST /predict with {"instances": [[30 numbers]]} (with --model: one value per feature of your model,
    strings for its string inputs), GET /healthz. Telemetry goes to <home>/telemetry/ unless
    INFERWATCH_TELEMETRY_DIR says otherwise. Ctrl-C stops it."""
    from reference_service import server_cloudrun  # onnxruntime: only the command that serves loads it

    version = model_version or ("1" if model is not None else "v1")
    # names become the telemetry file name: refused here, in one line, before anything starts
    for option, name in (("--deployment", deployment), ("--model-version", version),
                         ("--shadow-version", shadow_version), ("--service", service)):
        if name is not None:
            check_name(option, name)
    home = runtime(ctx).home
    env = dict(os.environ)
    env.update({"HOST": "127.0.0.1", "PORT": str(port), "INFERWATCH_MODEL_VERSION": version,
                "INFERWATCH_CONCURRENCY": str(concurrency), "INFERWATCH_HOME": str(home)})
    env.setdefault("INFERWATCH_TELEMETRY_DIR", str(home / "telemetry"))
    if model is not None:
        env.update(_own_model_env(model, task, input_name, feature_names, service))
    elif task or input_name or feature_names:
        raise CommandError("--task, --input-name and --feature-names go with --model")
    if deployment:
        env["INFERWATCH_DEPLOYMENT"] = deployment
    if shadow_version:
        env["INFERWATCH_SHADOW_VERSION"] = shadow_version

    def ready(bound_port: int) -> None:  # the bound port: with --port 0 the one the system picked
        typer.echo(f"serving {model or version} on http://127.0.0.1:{bound_port} "
                   f"(telemetry in {env['INFERWATCH_TELEMETRY_DIR']})", err=True)

    raise typer.Exit(server_cloudrun.main(env, on_ready=ready))  # 2: a bad INFERWATCH_* variable, named

def dlq_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    state: Annotated[str, typer.Option(help="dead (default), pending, running, done, or all.")] = "dead",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
) -> None:
    """Show dead letters (or jobs in another state) with their last error."""
    path = _queue_path(ctx)
    if not path.exists():
        typer.echo("[]" if as_json else f"no queue at {path}: nothing was ever sent asynchronously")
        return
    queue = DurableQueue(path)
    jobs = queue.jobs(None if state == "all" else state, limit=limit)
    if as_json:
        typer.echo(json.dumps([{"id": j.id, "request_id": j.request_id, "state": j.state, "attempts": j.attempts,
                                "error": j.last_error, "source": j.source, "bytes": len(j.payload)} for j in jobs],
                               indent=2))
        return
    counts = queue.counts()
    typer.echo("queue: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) if counts else "queue: empty")
    for j in jobs:
        typer.echo(f"{j.id}  {j.state:<7} attempts={j.attempts}  {(j.last_error or '')[:100]}")

def dlq_replay(
    ctx: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(help="Dead letters to replay (default: all).")] = None,
    url: Annotated[str | None, typer.Option(help="POST each to this URL (e.g. http://127.0.0.1:8080/predict) "
                                                 "and drop it on a 2xx; without it, requeue it for the next "
                                                 "server.")] = None,
    timeout_s: Annotated[float, typer.Option(help="Per-request timeout with --url.")] = 30.0,
) -> None:
    """Resend dead letters. Exits 1 if any could not be replayed."""
    path = _queue_path(ctx)
    if not path.exists():
        typer.echo(f"no queue at {path}")
        return
    queue = DurableQueue(path)
    dead = {j.id: j for j in queue.dead_letters(limit=100_000)}
    wanted = ids or list(dead)
    failed = 0
    for job_id in wanted:
        job = dead.get(job_id)
        if job is None:
            typer.echo(f"{job_id}: not a dead letter", err=True)
            failed += 1
        elif url is None:
            queue.requeue(job_id)
            typer.echo(f"{job_id}: requeued")
        else:
            code = _post(url, job.payload, timeout_s)
            if 200 <= code < 300:
                queue.delete(job_id)
                typer.echo(f"{job_id}: replayed ({code})")
            else:
                failed += 1
                typer.echo(f"{job_id}: still failing ({code or 'no answer'}), kept", err=True)
    typer.echo(f"replayed {len(wanted) - failed} of {len(wanted)}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    dlq_app = typer.Typer(help="The local dead-letter queue of asynchronous invocations.", no_args_is_help=True)
    dlq_app.command("list")(dlq_list)
    dlq_app.command("replay")(dlq_replay)
    app.add_typer(dlq_app, name="dlq")
