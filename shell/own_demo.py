"""`inferwatch demo --model M --data D`: the whole local stack on your own models.

For each model: its baseline from your data (as `inferwatch baseline create --model --data` makes it), a
local deployment serving it in the emulator, and traffic drawn from the rows of your data with the drift
switch. The deployments are written as an inferwatch.toml (``<home>/own-models.toml``, your config's other
sections kept) and read back as every verb reads a config, so the dashboard and later commands see the
same thing: `inferwatch --config <home>/own-models.toml status`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferwatch.names import check_name
from reference_service.emulator.table_inputs import TableSampler
from shell.demo import OwnTraffic
from shell.exits import CommandError
from shell.own_baseline import OwnBaseline, build_own_baseline, save_own_baseline
from shell.runtime import Runtime

CONFIG_NAME = "own-models.toml"


@dataclass(frozen=True)
class OwnModelSpec:
    model: Path
    data: Path
    service: str
    version: str
    task: str | None = None
    input_name: str | None = None
    label_column: str | None = None
    drift_features: tuple[str, ...] | None = None  # None: one numeric and one string column


def service_name(model: Path) -> str:
    """A service name from a model file's name (``wine-classifier.onnx`` -> ``wine-classifier``)."""
    text = "".join(c if c.isalnum() or c in "-_" else "-" for c in model.stem).strip("-_")[:64]
    return text or "model"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"


def toml_text(doc: Mapping[str, Any]) -> str:
    """A config document as TOML: top-level tables and arrays of tables, everything below them inline."""
    lines: list[str] = []
    for key, value in doc.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                lines.append(f"[[{key}]]")
                lines += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in item.items() if v is not None]
                lines.append("")
        elif isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None]
            lines.append("")
    return "\n".join(lines)


def _deployment(spec: OwnModelSpec, own: OwnBaseline) -> dict[str, Any]:
    card = own.card
    doc: dict[str, Any] = {"provider": "local", "name": spec.service, "service": spec.service,
                           "model_version": spec.version, "model_path": str(spec.model.resolve()), "task": card.task,
                           "max_instances": 4, "keep_alive_s": 60.0}
    if spec.input_name is not None:
        doc["input_name"] = spec.input_name
    if not card.column_inputs:  # one 2-D input: its columns are named by the data's header
        doc["feature_names"] = list(card.feature_names)
    return doc


def _traffic(spec: OwnModelSpec, own: OwnBaseline) -> OwnTraffic:
    card = own.card
    sampler = TableSampler(card.feature_names, tuple(own.table.columns[n] for n in card.feature_names))
    if spec.drift_features is not None:
        drifted = spec.drift_features
    else:  # one numeric and one string column, so both kinds of shift are there to find
        kinds = card.kinds or ("number",) * card.n_features
        drifted = tuple(next((n for n, k in zip(card.feature_names, kinds, strict=True) if k == kind), "")
                        for kind in ("number", "string"))
    return OwnTraffic(sampler, tuple(d for d in drifted if d))


def own_models_runtime(rt: Runtime, specs: Sequence[OwnModelSpec], echo: Callable[[str], None]
                       ) -> tuple[Runtime, dict[str, OwnTraffic]]:
    """Baselines saved, the config written and read back, and each service's traffic."""
    services = [s.service for s in specs]
    for name in services:
        check_name("--service", name)
    if len(set(services)) != len(services):
        raise CommandError(f"two models would be the same service ({', '.join(services)}): name them with --service")
    store = rt.open_store()
    deployments, traffic = [], {}
    for spec in specs:
        own = build_own_baseline(spec.model, spec.data, service=spec.service, version=spec.version, task=spec.task,
                                 input_name=spec.input_name, label_column=spec.label_column)
        bins = rt.home / "bins" / f"{spec.service}.bins.json"
        bins.parent.mkdir(parents=True, exist_ok=True)
        save_own_baseline(store, own, bins, echo=echo, warn=echo)
        deployments.append(_deployment(spec, own))
        traffic[spec.service] = _traffic(spec, own)
    doc = rt.settings.model_dump(mode="json", exclude_defaults=True, exclude={"deployments", "source_path"})
    path = rt.home / CONFIG_NAME
    path.write_text(toml_text({**doc, "deployments": deployments}), encoding="utf-8")
    echo(f"config of your models: {path} (use it later: inferwatch --config {path} status)")
    return Runtime.from_env(rt.env, config=path, home=rt.home), traffic
