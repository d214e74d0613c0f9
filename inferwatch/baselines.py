"""Drift baselines of the reference models, built from their held-out predictions and inputs and
kept in the store (versioned with the model's sha256); and reading any stored baseline back, where a
corrupted one becomes :class:`~drift.errors.UnreadableBaselineError` naming it and the command that
recreates it, so it costs drift for the models it serves and nothing else."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from drift import Baseline, BaselineError, UnreadableBaselineError, build_baseline
from inferwatch.store import Store, StoreDataError

MODEL_DIR = Path(__file__).resolve().parents[1] / "reference_service" / "model"
MODEL_VERSIONS = ("v1", "v2")


def baseline_id(version: str, sha256: str) -> str:
    return f"model-{version}-{sha256[:12]}"


def heldout_signals(version: str, model_dir: Path = MODEL_DIR) -> tuple[dict[str, Any], dict[str, Any]]:
    """(signals, model card) of one model version: score, class and every input feature."""
    card = json.loads((model_dir / f"{version}.card.json").read_text(encoding="utf-8"))
    data = np.load(model_dir / card["heldout_file"])
    signals: dict[str, Any] = {"score": data["scores"], "class": data["labels"]}
    for j, name in enumerate(card["feature_names"]):
        signals[f"feature:{name}"] = data["inputs"][:, j]
    return signals, card


def model_baseline(version: str, model_dir: Path = MODEL_DIR) -> tuple[str, Baseline]:
    signals, card = heldout_signals(version, model_dir)
    baseline = build_baseline(signals, categorical={"class"}, model_sha256=card["sha256"], version=version)
    return baseline_id(version, card["sha256"]), baseline


def ensure_model_baselines(store: Store, now: datetime | None = None) -> dict[str, str]:
    """Create the held-out baseline of each reference model once; returns version -> baseline id."""
    out = {}
    for version in MODEL_VERSIONS:
        bid, baseline = model_baseline(version)
        if not store.has_baseline(bid):  # present, even corrupted: kept for the operator to see and recreate
            store.save_baseline(bid, model_version=version, model_sha256=baseline.model_sha256,
                                source=f"held-out set of model {version}", payload=baseline.to_dict(),
                                created_at=now or datetime.now(UTC))
        out[version] = bid
    return out


# Parsed baselines by id, with the hash of the text they were parsed from: parsing ~30 columns of
# edges once per process is enough, and a row changed since (recreated, or corrupted) is read again.
_PARSED: dict[str, tuple[int, Baseline]] = {}


# The ``source`` that `inferwatch baseline create --from-deployment` records.
_WINDOW_SOURCE = re.compile(r"^(?P<deployment>\S+) (?P<start>\d{4}-\d\d-\d\d \d\d:\d\d)\.\."
                            r"(?P<end>\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


def recreate_command(info: Mapping[str, Any]) -> str:
    """The `inferwatch baseline create` command that rebuilds a baseline, from its stored row
    (``model_version``, ``model_sha256``, ``source``: what `baseline create` wrote)."""
    version, source = str(info.get("model_version", "")), str(info.get("source", ""))
    window = _WINDOW_SOURCE.match(source)
    if window:
        start, end = (window[k].replace(" ", "T") + ":00" for k in ("start", "end"))
        return (f"inferwatch baseline create --from-deployment {shlex.quote(window['deployment'])} "
                f"--start {start} --end {end}")
    if source.startswith("file "):
        return (f"inferwatch baseline create --npz {shlex.quote(source.removeprefix('file '))} "
                f"--version {shlex.quote(version)} --model-sha256 {shlex.quote(str(info.get('model_sha256', '')))}")
    if not version:
        return "inferwatch baseline create"
    if version in MODEL_VERSIONS:
        return f"inferwatch baseline create --version {version}"
    return f"inferwatch baseline create --npz <reference values>.npz --version {shlex.quote(version)} --model-sha256 <sha256>"


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


def latest_baseline(store: Store, model_version: str) -> tuple[str, Baseline] | None:
    """(id, baseline) of the newest baseline of ``model_version``, None when it has none; a corrupted
    one raises :class:`UnreadableBaselineError` (never an older one in its place: other bins)."""
    bid = store.latest_baseline_id(model_version)
    baseline = read_baseline(store, bid) if bid is not None else None
    return (bid, baseline) if bid is not None and baseline is not None else None


@dataclass(frozen=True, slots=True)
class BaselineHealth:
    """One stored baseline for `inferwatch baseline list`: its row, and why it is unreadable (if it is)."""

    id: str
    model_version: str
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
        out.append(BaselineHealth(row["id"], str(row["model_version"]), row["created_at"], str(row["source"]), error))
    return out
