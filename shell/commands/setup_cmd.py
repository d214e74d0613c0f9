"""`inferwatch setup aws|gcp`: everything one deployment needs for the probe's window lines, printed as exact
steps (shell.cloud_setup), with the baseline's bins file written and kept in the store; `--apply` performs
what an API allows (AWS: the function's environment and its log group's retention)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from drift.probe_bins import probe_bins_file
from inferwatch.names import check_name
from inferwatch.schema import ModelKey
from readmodels.baselines import baseline_for, read_baseline
from shell.cloud_setup import RETENTION_DAYS, ProbePlan, aws_plan, gcp_plan
from shell.commands.context import runtime
from shell.exits import CommandError
from shell.runtime import Runtime

TASKS = ("binary", "multiclass", "regression")
_FILE_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

Version = Annotated[str, typer.Option("--model-version", help="The model version the deployment serves.")]
Task = Annotated[str, typer.Option(help="binary, multiclass or regression (the probe's INFERWATCH_TASK).")]
BaselineId = Annotated[str | None, typer.Option("--baseline", help="Baseline id (default: the newest of the "
                                                "service's model version).")]
Service = Annotated[str | None, typer.Option(help="Service grouping its versions (default: the function).")]
BinsOut = Annotated[Path | None, typer.Option(help="Where to write the bins file (default: "
                                              "<home>/probe-bins/<baseline id>.json).")]


def _plan(rt: Runtime, *, deployment: str, service: str, version: str, task: str, baseline_id: str | None,
          bins_out: Path | None, bins_in_function: str) -> ProbePlan:
    check_name("--model-version", version)
    if task not in TASKS:
        raise CommandError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    store = rt.open_store()
    key = ModelKey(service, version)
    found = (baseline_id, read_baseline(store, baseline_id)) if baseline_id else baseline_for(store, key)
    if found is None or found[1] is None:
        what = f"baseline {baseline_id}" if baseline_id else f"baseline of service {service} model {version}"
        raise CommandError(f"no {what} in the store: create one with `inferwatch baseline create`")
    bid, baseline = found[0], found[1]
    content = probe_bins_file(bid, baseline)
    sha = hashlib.sha256(content).hexdigest()
    path = bins_out or rt.home / "probe-bins" / f"{bid if _FILE_SAFE.fullmatch(bid) else sha[:16]}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    except OSError as exc:
        raise CommandError(f"cannot write the bins file {path}: {exc}") from exc
    store.save_probe_bins(content, baseline_id=bid, created_at=datetime.now(UTC))
    return ProbePlan(deployment, service, version, task, bid, baseline, path, sha, bins_in_function)


def register(app: typer.Typer) -> None:
    setup_app = typer.Typer(help="What a cloud deployment needs for Inferwatch: probe, bins file, logs, "
                                 "permissions, config.", no_args_is_help=True)

    @setup_app.command("aws")
    def aws(ctx: typer.Context, function: Annotated[str, typer.Argument(help="The Lambda function.")],
            region: Annotated[str, typer.Option(help="Its region.")], model_version: Version, task: Task,
            baseline: BaselineId = None, service: Service = None, bins_out: BinsOut = None,
            log_group: Annotated[str | None, typer.Option(help="Its log group, when not /aws/lambda/<function>.")]
            = None,
            apply: Annotated[bool, typer.Option("--apply", help="Merge the probe's variables into the function's "
                                                "environment and set its log retention.")] = False) -> None:
        """Print the exact steps for a Lambda function (and with --apply, do the AWS ones)."""
        check_name("FUNCTION", function)
        check_name("--region", region)
        rt = runtime(ctx)
        plan = _plan(rt, deployment=function, service=service or function, version=model_version, task=task,
                     baseline_id=baseline, bins_out=bins_out, bins_in_function="/var/task/inferwatch-bins.json")
        for line in aws_plan(plan, function=function, region=region, log_group=log_group):
            typer.echo(line)
        if apply:
            _apply_aws(rt, plan, function=function, region=region, log_group=log_group)

    @setup_app.command("gcp")
    def gcp(ctx: typer.Context, service_name: Annotated[str, typer.Argument(help="The Cloud Run service.")],
            project: Annotated[str, typer.Option(help="Its project.")],
            region: Annotated[str, typer.Option(help="Its region.")], model_version: Version, task: Task,
            baseline: BaselineId = None, service: Service = None, bins_out: BinsOut = None) -> None:
        """Print the exact steps for a Cloud Run service: nothing needs creating in the project (no custom
        metric); the environment update makes a new revision, so it is printed for you to run."""
        check_name("SERVICE_NAME", service_name)
        check_name("--region", region)
        rt = runtime(ctx)
        plan = _plan(rt, deployment=service_name, service=service or service_name, version=model_version,
                     task=task, baseline_id=baseline, bins_out=bins_out,
                     bins_in_function="/app/inferwatch-bins.json")
        for line in gcp_plan(plan, service=service_name, project=project, region=region):
            typer.echo(line)

    app.add_typer(setup_app, name="setup")


def _apply_aws(rt: Runtime, plan: ProbePlan, *, function: str, region: str, log_group: str | None) -> None:
    from collectors.aws_client import AwsClients, ClientSettings  # boto3 only when applying (see the registry)
    from collectors.aws_setup import apply_function_setup  # the same

    creds = {k: rt.env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if rt.env.get(k)}
    clients = AwsClients(ClientSettings(region=region, credentials=creds, max_attempts=3))
    done = apply_function_setup(clients, function, plan.variables(),
                                log_group=log_group or f"/aws/lambda/{function}", retention_days=RETENTION_DAYS)
    typer.echo("")
    typer.echo(f"applied: {function}'s environment now holds {', '.join(sorted(plan.variables()))} "
               f"({len(done.environment)} variables in all)")
    typer.echo(f"applied: {done.log_group} retention {done.retention_days} days"
               + (" (log group created)" if done.log_group_created else ""))
