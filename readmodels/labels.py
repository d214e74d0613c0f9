"""Labels that arrive after the predictions: each row resolved to the prediction it labels, checked
against its model, and stored with the per-step aggregates realised quality is computed from.

A row names its prediction in one of two ways:

- **request id** (and the row within the request's batch, default 0): the prediction comes from the
  per-request records the local collector keeps for three days (``Store.load_predictions``). A
  request id with no record is *unmatched* (an unknown id, or one older than the records): counted
  and reported, not an error for the other rows.
- **timestamp, prediction** (and its score when known): the file carries the prediction itself, so it
  works for any deployment (the cloud collectors keep no per-request records).

One bad row costs that row: a label that is not one of the model's classes (or, for a regressor,
not a number), a prediction of the wrong type, a score outside [0, 1], an unknown deployment or a
time in the future is refused with one message naming its line, and counted; every other row is
stored. Storing is idempotent (``LabelRecord.key``): the same file ingested twice changes nothing,
a corrected label replaces the old one.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from inferwatch.schema import Deployment, LabelRecord, PredictionRecord
from inferwatch.store import Store
from readmodels.label_aggregates import (
    REGRESSOR,
    UNKNOWN,
    KindsLookup,
    ModelKind,
    kinds_lookup,
    parse_number,
    step_aggregator,
)

MAX_AHEAD_S = 300  # a label's prediction time may be this far ahead of now (clock skew), no more
MAX_ERRORS_KEPT = 200


@dataclass(frozen=True, slots=True)
class LabelInput:
    """One row of a label file, as parsed (``line`` numbers it for messages)."""

    line: int
    label: str
    deployment: str | None = None
    request_id: str | None = None
    row: int = 0
    at: datetime | None = None
    predicted: str | None = None
    score: float | None = None
    model_version: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str


@dataclass(slots=True)
class IngestReport:
    """What one ingest did: rows stored (new or replacing earlier ones), unmatched request ids, refusals."""

    read_count: int = 0
    stored_count: int = 0
    new_count: int = 0
    unmatched_count: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first MAX_ERRORS_KEPT refusals
    per_deployment: Counter[str] = field(default_factory=Counter)

    def refuse(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(RowError(line, message))


class _Refused(Exception):
    """A row that cannot be stored (its message names why)."""


def _resolve_deployment(name: str, deployments: Sequence[Deployment]) -> Deployment:
    exact = [d for d in deployments if d.id == name]
    by_name = [d for d in deployments if d.name == name]
    found = exact or by_name
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise _Refused(f"deployment {name!r} is ambiguous: give its id ({', '.join(d.id for d in found)})")
    known = ", ".join(d.id for d in deployments[:5]) + (" ..." if len(deployments) > 5 else "")
    raise _Refused(f"deployment {name!r} is not in the store (known: {known or 'none yet'})")


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _checked(kind: ModelKind | None, model_version: str, deployment: str, predicted: str, score: float | None,
             label: str) -> None:
    """Refuse a row its model cannot take (wrong label or prediction type, score outside [0, 1])."""
    if kind is None:
        raise _Refused(f"the baseline of model {model_version!r} cannot be read: "
                       "recreate it (see inferwatch baseline list)")
    if kind.kind == UNKNOWN:
        raise _Refused(f"the baseline of model {model_version!r} has a score or a class signal but not both: "
                       "a classifier's labels need both (recreate it with inferwatch baseline create)")
    if kind.kind == REGRESSOR:
        for what, text in (("label", label), ("prediction", predicted)):
            if parse_number(text) is None:
                raise _Refused(f"{what} {text[:40]!r} is not a number ({deployment} model {model_version!r} is a "
                               "regressor: it has no baseline with score and class signals)")
        return
    classes = ", ".join(kind.classes)
    for what, text in (("label", label), ("prediction", predicted)):
        if text not in kind.classes:
            raise _Refused(f"{what} {text[:40]!r} is not a class of model {model_version!r} (classes: {classes})")
    if score is not None and not 0.0 <= score <= 1.0:
        raise _Refused(f"score {score!r} is not a probability in [0, 1]")


@dataclass(slots=True)
class _Resolver:
    """Turns parsed rows into label records for one ingest."""

    store: Store
    now: datetime
    source: str
    kinds: KindsLookup
    occurrences: Counter[str] = field(default_factory=Counter)

    def from_request(self, item: LabelInput, deployment: Deployment, found: PredictionRecord) -> LabelRecord:
        rows = max(len(found.classes), len(found.scores), len(found.values))
        if not 0 <= item.row < rows:
            raise _Refused(f"request {item.request_id!r} predicted {rows} row(s): there is no row {item.row}")
        predicted = found.classes[item.row] if item.row < len(found.classes) else ""
        score = found.scores[item.row] if item.row < len(found.scores) else None
        value = found.values[item.row] if item.row < len(found.values) else None
        if not predicted and value is not None:  # a regression: the value is the prediction
            predicted = repr(value)
        version = found.model_version
        _checked(self.kinds(deployment.id, version), version, deployment.id, predicted, score, item.label)
        return LabelRecord(deployment.id, _key("request", str(item.request_id), str(item.row)), found.at,
                           found.model_version, predicted, score, item.label, self.source)

    def from_row(self, item: LabelInput, deployment: Deployment) -> LabelRecord:
        if item.at is None or item.predicted is None:
            raise _Refused("needs a request_id, or a timestamp and a prediction")
        if item.at > self.now + timedelta(seconds=MAX_AHEAD_S):
            raise _Refused(f"timestamp {item.at.isoformat()} is in the future")
        version = item.model_version or deployment.model_version
        if not version:
            raise _Refused(f"{deployment.id} has no model version: add a model_version column")
        _checked(self.kinds(deployment.id, version), version, deployment.id, item.predicted, item.score, item.label)
        identity = (deployment.id, item.at.isoformat(), item.predicted, repr(item.score), version)
        nth = self.occurrences[_key(*identity)]  # identical rows in one file are distinct predictions
        self.occurrences[_key(*identity)] += 1
        return LabelRecord(deployment.id, _key("row", *identity, str(nth)), item.at, version, item.predicted,
                           item.score, item.label, self.source)


def _by_deployment(store: Store, items: Sequence[LabelInput], default: str | None, report: IngestReport
                   ) -> dict[str, tuple[Deployment, list[LabelInput]]]:
    """Rows per deployment: named by the row or ``default``, else found by request id in every deployment."""
    deployments = store.load_deployments()
    out: dict[str, tuple[Deployment, list[LabelInput]]] = {}
    unnamed = [item.request_id for item in items if not (item.deployment or default) and item.request_id]
    owners: dict[str, list[str]] = defaultdict(list)
    for p in store.load_predictions(unnamed) if unnamed else []:
        owners[p.request_id].append(p.deployment)
    for item in items:
        name = item.deployment or default
        if not name and item.request_id:
            found = owners.get(item.request_id, [])
            if len(found) != 1:
                if found:
                    report.refuse(item.line, f"request {item.request_id!r} was answered by {', '.join(found)}: "
                                  "add a deployment column or pass --deployment")
                else:
                    report.unmatched_count += 1
                continue
            name = found[0]
        if not name:
            report.refuse(item.line, "no deployment: add a deployment column or pass --deployment")
            continue
        try:
            dep = _resolve_deployment(name, deployments)
        except _Refused as exc:
            report.refuse(item.line, str(exc))
            continue
        out.setdefault(dep.id, (dep, []))[1].append(item)
    return out


def resolve_labels(store: Store, items: Sequence[LabelInput], *, now: datetime, source: str,
                   deployment: str | None = None) -> tuple[list[LabelRecord], IngestReport]:
    """The label records of ``items`` and what happened to each row (nothing is stored)."""
    report = IngestReport(read_count=len(items))
    resolver = _Resolver(store, now, source, kinds_lookup(store))
    records: list[LabelRecord] = []
    for dep, rows in _by_deployment(store, items, deployment, report).values():
        wanted = [r.request_id for r in rows if r.request_id]
        kept = {p.request_id: p for p in store.load_predictions(wanted, deployment=dep.id)} if wanted else {}
        for item in rows:
            try:
                if item.request_id:
                    found = kept.get(item.request_id)
                    if found is None:
                        report.unmatched_count += 1
                        continue
                    records.append(resolver.from_request(item, dep, found))
                else:
                    records.append(resolver.from_row(item, dep))
            except _Refused as exc:
                report.refuse(item.line, str(exc))
    return records, report


def ingest_labels(store: Store, items: Sequence[LabelInput], *, now: datetime, source: str, step_s: int,
                  deployment: str | None = None) -> IngestReport:
    """Resolve, check and store label rows with the aggregates of every step they touch.

    Raises
    ------
    StoreError
        The store is unavailable (nothing is stored then).
    """
    records, report = resolve_labels(store, items, now=now, source=source, deployment=deployment)
    unique = {(r.deployment, r.key): r for r in records}  # a row repeated with the same identity: the last wins
    if unique:
        report.new_count = store.save_labels(list(unique.values()), step_s,
                                             step_aggregator(kinds_lookup(store), step_s))
    report.stored_count = len(unique)
    report.per_deployment.update(dep for dep, _ in unique)
    return report
