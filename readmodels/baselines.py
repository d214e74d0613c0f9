"""Stored drift baselines as the surfaces see them: read back by id or as the newest of a model version,
where a corrupted one becomes :class:`~drift.errors.UnreadableBaselineError` naming it and the command
that recreates it, so it costs drift for the models it serves and nothing else."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drift import Baseline, BaselineError, UnreadableBaselineError
from inferwatch.store import Store, StoreDataError

# Parsed baselines by id, with the hash of the text they were parsed from: parsing ~30 columns of
# edges once per process is enough, and a row changed since (recreated, or corrupted) is read again.
_PARSED: dict[str, tuple[int, Baseline]] = {}


# The ``source`` recorded for a reference model's held-out baseline (shell.reference_baselines).
HELD_OUT_SOURCE = "held-out set of model "
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
    if source.startswith(HELD_OUT_SOURCE):  # a reference model's held-out set (the demo's models)
        return f"inferwatch baseline create --version {shlex.quote(version)}"
    return (f"inferwatch baseline create --npz <reference values>.npz --version {shlex.quote(version)} "
            "--model-sha256 <sha256>")


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
