"""`inferwatch baseline create|list`: the drift baselines predictions and inputs are compared with.

A baseline belongs to one service's model (service, model version, and the model file's sha256): a
collector counts a deployment's values over the baseline of its own service's model, never over
another service's, so two services that both call their model ``v1`` never share one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from drift import DriftError, WindowCounts, build_baseline, merge_all
from drift.rebase import baseline_from_windows
from inferwatch.config import LocalDeploymentConfig, local_deployment
from inferwatch.names import check_name
from inferwatch.schema import ModelKey
from inferwatch.store import Store
from readmodels.baselines import HELD_OUT_SOURCE, baseline_health, read_baseline, save_keyed_baseline
from shell.commands.context import runtime
from shell.exits import CommandError
from shell.reference_baselines import MODEL_VERSIONS, model_baseline, reference_keys
from shell.runtime import Runtime

# (key, Baseline, source) per baseline to save
Built = tuple[ModelKey, Any, str]


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _deployment_service(rt: Runtime, store: Store, deployment: str, services: list[str] | None) -> str:
    """The service of a deployment id: --service, else the store's record of it, else the config's."""
    if services:
        if len(services) != 1:
            raise typer.BadParameter("--from-deployment takes one --service")
        return services[0]
    configured = [local_deployment(d) for d in rt.settings.deployments if isinstance(d, LocalDeploymentConfig)]
    for d in [*store.load_deployments(), *configured]:
        if d.id == deployment:
            return d.service
    raise CommandError(f"--from-deployment {deployment}: the store and the config do not know this deployment's "
                       "service: name it with --service")


def _from_window(rt: Runtime, store: Store, deployment: str, start: datetime, end: datetime,
                 services: list[str] | None) -> Built:
    """A baseline of a deployment's merged counts in [start, end), for that deployment's service."""
    points = store.load_histograms(deployments=[deployment], start=start, end=end)
    if not points:
        raise typer.BadParameter(f"no histograms for {deployment} between {start:%Y-%m-%d %H:%M} and {end:%H:%M} UTC")
    bid = max(points, key=lambda p: p.start).baseline_id
    base = read_baseline(store, bid)  # an unreadable one raises, naming it and how to recreate it
    if base is None:
        raise typer.BadParameter(f"the baseline of these histograms, {bid}, is no longer in the store")
    service = _deployment_service(rt, store, deployment, services)
    parts: dict[str, list[WindowCounts]] = {}
    for p in points:
        if p.baseline_id == bid and p.signal in base.columns:
            parts.setdefault(p.signal, []).append(WindowCounts.from_dict(p.counts))
    merged = {signal: merge_all(items) for signal, items in parts.items()}
    rebased = baseline_from_windows(base, merged, model_sha256=base.model_sha256, version=base.version)
    source = f"{deployment} {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} UTC (bins of {bid})"
    return ModelKey(service, base.version, base.model_sha256), rebased, source


def _held_out(rt: Runtime, versions: list[str] | None, services: list[str] | None) -> list[Built]:
    """The reference models' held-out baselines, for the named services or those configured to serve them."""
    wanted = versions or list(MODEL_VERSIONS)
    unknown = [v for v in wanted if v not in MODEL_VERSIONS]
    if unknown:
        raise CommandError(f"--version {unknown[0]}: held-out data exists for the reference models "
                           f"{', '.join(MODEL_VERSIONS)} only; for your own model use --model and --data")
    keys = ([ModelKey(s, v) for s in services for v in wanted] if services
            else [k for k in reference_keys(rt.settings) if k.model_version in wanted])
    if not keys:
        raise CommandError("no configured local deployment serves the reference models: name the service "
                           "with --service")
    out = []
    for key in keys:
        base = model_baseline(key.model_version)
        out.append((ModelKey(key.service, key.model_version, base.model_sha256), base,
                    f"{HELD_OUT_SOURCE}{key.model_version}"))
    return out


def _from_npz(npz: Path, services: list[str] | None, versions: list[str] | None, model_sha256: str | None,
              categorical: list[str] | None) -> list[Built]:
    if not services or len(services) != 1 or not versions or len(versions) != 1 or not model_sha256:
        raise typer.BadParameter("--npz needs exactly one --service, one --version and --model-sha256")
    with np.load(npz) as data:
        signals = {name: data[name] for name in data.files}
    base = build_baseline(signals, categorical=set(categorical or ["class"]) & set(signals),
                          model_sha256=model_sha256, version=versions[0])
    return [(ModelKey(services[0], versions[0], model_sha256), base, f"file {npz.name}")]


def save_built(store: Store, built: list[Built], echo: Any = typer.echo) -> list[str]:
    """Save each baseline under its key; says what was saved."""
    now = datetime.now(UTC)
    ids = []
    for key, base, source in built:
        bid = save_keyed_baseline(store, key, base, source=source, created_at=now)
        size_kb = len(json.dumps(base.to_dict())) / 1024
        echo(f"baseline {bid} for service {key.service} model {key.model_version} "
             f"(sha256 {(key.model_sha256 or base.model_sha256)[:12]}): {len(base.columns)} signals, "
             f"{size_kb:.0f} KB ({source})")
        ids.append(bid)
    return ids


def _own(ctx: typer.Context, model: Path, data: Path | None, service: list[str] | None, model_version: str | None,
         task: str | None, input_name: str | None, label_column: str | None, bins_out: Path | None) -> None:
    if data is None or not service or len(service) != 1 or model_version is None:
        raise typer.BadParameter("--model needs --data, one --service and --model-version")
    from shell.own_baseline import build_own_baseline, default_bins_path, save_own_baseline  # pandas: 0.5 s

    rt = runtime(ctx)  # a bad config stops here, before the model runs
    own = build_own_baseline(model, data, service=service[0], version=model_version, task=task,
                             input_name=input_name, label_column=label_column)
    store = rt.open_store()
    save_own_baseline(store, own, bins_out or default_bins_path(model), echo=typer.echo,
                      warn=lambda text: typer.secho(text, fg=typer.colors.YELLOW, err=True))


def _built(rt: Runtime, store: Store, service: list[str] | None, version: list[str] | None, npz: Path | None,
           model_sha256: str | None, categorical: list[str] | None,
           window: tuple[str, datetime | None, datetime | None] | None) -> list[Built]:
    """The baselines `baseline create` builds without --model: from a deployment's window, an .npz, or the
    reference models' held-out data."""
    try:
        if window is not None:
            deployment, start, end = window
            if start is None or end is None:
                raise typer.BadParameter("--from-deployment needs --start and --end")
            return [_from_window(rt, store, deployment, _utc(start), _utc(end), service)]
        if npz is not None:
            return _from_npz(npz, service, version, model_sha256, categorical)
        return _held_out(rt, version, service)
    except (DriftError, OSError, KeyError) as exc:
        raise CommandError(f"cannot build the baseline: {exc}") from exc


def create(
    ctx: typer.Context,
    service: Annotated[list[str] | None, typer.Option(
        help="The service whose model this is (a baseline serves its service only). Default for the "
             "reference models: the configured local deployments that serve them.")] = None,
    version: Annotated[list[str] | None, typer.Option(
        help="Reference model version(s) v1, v2 (default: both), or the version of the model in --npz.")] = None,
    npz: Annotated[Path | None, typer.Option(help="Build from this .npz instead: one array per signal "
                                              "(score, class, feature:<name>).")] = None,
    model_sha256: Annotated[str | None, typer.Option(help="sha256 of the model (with --npz).")] = None,
    categorical: Annotated[list[str] | None,
                           typer.Option(help="Categorical signals (with --npz; default: class).")] = None,
    from_deployment: Annotated[str | None, typer.Option(help="Build from this deployment's counts in "
                                                        "[--start, --end) instead (a chosen time window).")] = None,
    start: Annotated[datetime | None, typer.Option(help="Window start, UTC (with --from-deployment).")] = None,
    end: Annotated[datetime | None, typer.Option(help="Window end, UTC (with --from-deployment).")] = None,
    model: Annotated[Path | None, typer.Option(help="Your ONNX model: run it on --data and build the baseline "
                                                "of its outputs and inputs.")] = None,
    data: Annotated[Path | None, typer.Option(help="Reference data for --model: a CSV (with a header) or "
                                               "Parquet file, one column per model input.")] = None,
    model_version: Annotated[str | None, typer.Option(help="The version your function reports (with "
                                                      "--model; INFERWATCH_MODEL_VERSION).")] = None,
    task: Annotated[str | None, typer.Option(help="binary, multiclass or regression (with --model; "
                                             "default: read from the model's outputs).")] = None,
    input_name: Annotated[str | None, typer.Option(help="The model input the rows go to (with --model; "
                                                   "checked against the model).")] = None,
    label_column: Annotated[str | None, typer.Option(help="A column of --data holding the true labels: "
                                                     "calibrates a classifier's quality estimates.")] = None,
    bins_out: Annotated[Path | None, typer.Option(help="Where to write the probe's bins file (with --model; "
                                                 "default: <model>.bins.json beside the model).")] = None,
) -> None:
    """Build baselines and save them in the store: from your model run on your reference data
    (--model, --data), from the reference models' held-out data (default), from an .npz of raw values,
    or from a deployment's counts over a chosen time window.

    A baseline keeps ~1,000 quantile edges with counts per numeric signal and class counts per
    categorical one (<= 32 KB per column); the raw data is not needed afterwards. With --model it also
    writes the bins file your function's probe counts its window lines over (INFERWATCH_PROBE_BINS).
    """
    for option, names in (("--version", version), ("--service", service)):
        for name in names or []:  # names become baseline ids and metric dimensions
            check_name(option, name)
    if model is not None:
        if npz is not None or from_deployment is not None or version:
            raise typer.BadParameter("--model goes with --data, --service and --model-version, not with "
                                     "--npz, --from-deployment or --version")
        _own(ctx, model, data, service, model_version, task, input_name, label_column, bins_out)
        return
    rt = runtime(ctx)
    store = rt.open_store()
    window = None if from_deployment is None else (from_deployment, start, end)
    save_built(store, _built(rt, store, service, version, npz, model_sha256, categorical, window))


def list_(ctx: typer.Context) -> None:
    """List the baselines in the store, newest first, with the model each is for (service, version,
    sha256); an unreadable one is named with its problem and the command that recreates it."""
    rows = baseline_health(runtime(ctx).open_store())
    if not rows:
        typer.echo("no baselines yet: run `inferwatch baseline create`")
    for r in rows:
        service = r.service or "-"
        typer.echo(f"{r.id:<40} service {service:<16} model {r.model_version:<10} sha256 {r.model_sha256[:12]}  "
                   f"{r.created_at:%Y-%m-%d %H:%M} UTC  {r.source}")
        if not r.service:
            typer.secho("  serves no model: made before baselines were keyed by service; recreate it with "
                        "--service", fg=typer.colors.YELLOW)
        if r.error is not None:
            typer.secho(f"  UNREADABLE ({r.error.problem}): recreate it with `{r.error.remedy}`",
                        fg=typer.colors.RED)


def register(app: typer.Typer) -> None:
    baseline_app = typer.Typer(help="Drift baselines: what predictions and inputs are compared with.",
                               no_args_is_help=True)
    baseline_app.command("create")(create)
    baseline_app.command("list")(list_)
    app.add_typer(baseline_app, name="baseline")
