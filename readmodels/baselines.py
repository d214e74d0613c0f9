"""Stored drift baselines as the surfaces see them: saved under a model's key (:class:`ModelKey`: service,
version, sha256), read back by id or as the one for a model (:func:`baseline_for`), where a corrupted one
becomes :class:`~drift.errors.UnreadableBaselineError` naming it and the command that recreates it, so it
costs drift for the models it serves and nothing else."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drift import Baseline, BaselineError, UnreadableBaselineError
from inferwatch.schema import ModelKey
from inferwatch.store import Store, StoreDataError

# Parsed baselines by id, with the hash of the text they were parsed from: parsing ~30 columns of
# edges once per process is enough, and a row changed since (recreated, or corrupted) is read again.
_PARSED: dict[str, tuple[int, Baseline]] = {}


# The ``source`` recorded for a reference model's held-out baseline (shell.reference_baselines).
HELD_OUT_SOURCE = "held-out set of model "
# The ``source`` that `inferwatch baseline create --model --data` records.
MODEL_DATA_SOURCE = re.compile(r"^model (?P<model>\S+) on (?P<data>\S+)$")
# The ``source`` that `inferwatch baseline create --from-deployment` records.
_WINDOW_SOURCE = re.compile(r"^(?P<deployment>\S+) (?P<start>\d{4}-\d\d-\d\d \d\d:\d\d)\.\."
                            r"(?P<end>\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


def recreate_command(info: Mapping[str, Any]) -> str:
    """The `inferwatch baseline create` command that rebuilds a baseline, from its stored row
    (``service``, ``model_version``, ``model_sha256``, ``source``: what `baseline create` wrote)."""
    version, source = str(info.get("model_version", "")), str(info.get("source", ""))
    service = str(info.get("service") or "")
    for_service = f" --service {shlex.quote(service)}" if service else " --service <service>"
    window = _WINDOW_SOURCE.match(source)
    if window:
        start, end = (window[k].replace(" ", "T") + ":00" for k in ("start", "end"))
        return (f"inferwatch baseline create --from-deployment {shlex.quote(window['deployment'])} "
                f"--start {start} --end {end}")
    own = MODEL_DATA_SOURCE.match(source)
    if own:
        return (f"inferwatch baseline create --model {shlex.quote(own['model'])} --data {shlex.quote(own['data'])}"
                f"{for_service} --model-version {shlex.quote(version)}")
    if source.startswith("file "):
        return (f"inferwatch baseline create --npz {shlex.quote(source.removeprefix('file '))}{for_service} "
                f"--version {shlex.quote(version)} --model-sha256 {shlex.quote(str(info.get('model_sha256', '')))}")
    if not version:
        return "inferwatch baseline create"
    if source.startswith(HELD_OUT_SOURCE):  # a reference model's held-out set (the demo's models)
        return f"inferwatch baseline create --version {shlex.quote(version)}{for_service}"
    return (f"inferwatch baseline create --model <model.onnx> --data <reference data>{for_service} "
            f"--model-version {shlex.quote(version)}")


def new_baseline_id(key: ModelKey, baseline: Baseline) -> str:
    """A baseline's id: the service and version (shortened) and a digest of the key and the baseline's
    content, so ids of different models never meet, the same baseline made twice keeps its id, and a
    new one of the same model (other reference data) gets its own (histograms name the bins they were
    counted over). A safe name (inferwatch.names) of at most 62 characters."""
    content = json.dumps(baseline.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
    digest = hashlib.sha256("\n".join((key.service, key.model_version, key.model_sha256 or "",
                                        content)).encode()).hexdigest()
    return f"{key.service[:24]}-{key.model_version[:24]}-{digest[:12]}"


def save_keyed_baseline(store: Store, key: ModelKey, baseline: Baseline, *, source: str, created_at: datetime,
                        probe_bins: bytes | None = None) -> str:
    """Save ``baseline`` as the baseline of ``key``'s model (with the bins file exported for its probes,
    in the same transaction); returns its id."""
    bid = new_baseline_id(key, baseline)
    store.save_baseline(bid, service=key.service, model_version=key.model_version,
                        model_sha256=key.model_sha256 or baseline.model_sha256, source=source,
                        payload=baseline.to_dict(), created_at=created_at, probe_bins=probe_bins)
    return bid


def _unreadable(store: Store, bid: str, problem: str) -> UnreadableBaselineError:
    info = next((row for row in store.list_baselines() if row["id"] == bid), {"id": bid})
    return UnreadableBaselineError(bid, problem, recreate_command(info))


def read_baseline(store: Store, bid: str) -> Baseline | None:
    """The stored baseline ``bid``, None when there is none; a corrupted one raises
    :class:`UnreadableBaselineError` naming it and how to recreate it."""
    text = store.load_baseline_text(bid)
    if text is None:
        return None
    cached = _PARSED.get(bid)
    if cached is not None and cached[0] == hash(text):
        return cached[1]
    try:
        payload = store.load_baseline(bid)
        if payload is None:  # removed since the text was read
            return None
        baseline = Baseline.from_dict(payload)
    except StoreDataError as exc:
        raise _unreadable(store, bid, exc.problem) from exc
    except BaselineError as exc:
        raise _unreadable(store, bid, f"{exc.field}: {exc.problem}") from exc
    if len(_PARSED) > 64:
        _PARSED.clear()
    _PARSED[bid] = (hash(text), baseline)
    return baseline


def baseline_for(store: Store, key: ModelKey) -> tuple[str, Baseline] | None:
    """(id, baseline) of ``key``'s model: the newest made for exactly its model file (sha256) when the
    telemetry names one, else the newest of its service's version; None when that service has none for
    this version (never another service's: two services may both call their model ``v1``). A corrupted
    one raises :class:`UnreadableBaselineError` (never an older one in its place: other bins)."""
    bid = store.baseline_id_for(key.service, key.model_version, key.model_sha256)
    baseline = read_baseline(store, bid) if bid is not None else None
    return (bid, baseline) if bid is not None and baseline is not None else None


@dataclass(frozen=True, slots=True)
class BaselineHealth:
    """One stored baseline for `inferwatch baseline list`: its row, and why it is unreadable (if it is).
    ``service`` is '' for a baseline made before baselines were keyed by service: it serves no model."""
    id: str
    service: str
    model_version: str
    model_sha256: str
    created_at: datetime
    source: str
    error: UnreadableBaselineError | None = None


def baseline_health(store: Store) -> list[BaselineHealth]:
    """Every stored baseline, newest first, each read back to tell the readable from the corrupted."""
    out = []
    for row in store.list_baselines():
        try:
            read_baseline(store, row["id"])
            error = None
        except UnreadableBaselineError as exc:
            error = exc
        out.append(BaselineHealth(row["id"], str(row["service"] or ""), str(row["model_version"]),
                                  str(row["model_sha256"]), row["created_at"], str(row["source"]), error))
    return out
