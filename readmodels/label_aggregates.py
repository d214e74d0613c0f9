"""What a model version's labels are counted against, and the per-step label aggregates the store keeps.

A model version is a **classifier** when its baseline has a numeric ``score`` and a categorical
``class`` signal: its labels are counted over the baseline's score bins and classes
(``quality.ClassifierLabels``). A baseline with only one of the two leaves the kind **unknown** (its
labels cannot be counted, and its quality is not estimated). Otherwise it is a **regressor**, whose
labels and predictions are numbers (``quality.RegressorLabels``) and need no baseline.
``inferwatch labels ingest`` checks each row against this before storing it; the store calls
:func:`step_aggregator`'s function to rebuild the aggregates of every step whose rows changed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from drift import Baseline, CategoricalColumn, NumericColumn, UnreadableBaselineError
from inferwatch.schema import LabelRecord, LabelStep, ModelKey
from inferwatch.store import Store
from quality import ClassifierLabels, RegressorLabels
from readmodels.baselines import baseline_for

CLASSIFIER = "classifier"
REGRESSOR = "regressor"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ModelKind:
    """What one model version's labels are measured against: its baseline's score bins and classes
    (classifiers), or nothing (regressors)."""

    model_version: str
    kind: str  # classifier | regressor
    baseline_id: str = ""
    column: NumericColumn | None = None
    classes: tuple[str, ...] = ()


def classifier_signals(baseline: Baseline) -> tuple[NumericColumn, tuple[str, ...]] | None:
    """(score column, classes) of a classifier's baseline; None when it has no score and class signals."""
    score, classes = baseline.columns.get("score"), baseline.columns.get("class")
    if isinstance(score, NumericColumn) and isinstance(classes, CategoricalColumn) and len(classes.categories) >= 2:
        return score, classes.categories
    return None


def baseline_kind(baseline: Baseline | None) -> str:
    """classifier (score and class signals), unknown (only one of them) or regressor (neither, or no baseline)."""
    if baseline is None:
        return REGRESSOR
    if classifier_signals(baseline) is not None:
        return CLASSIFIER
    return UNKNOWN if {"score", "class"} & set(baseline.columns) else REGRESSOR


def model_kind(store: Store, key: ModelKey) -> ModelKind:
    """The kind of ``key``'s model from its service's newest baseline of that version (an unreadable one
    raises, naming it)."""
    found = baseline_for(store, key)
    kind = baseline_kind(found[1] if found is not None else None)
    signals = classifier_signals(found[1]) if found is not None else None
    if found is None or signals is None:
        return ModelKind(key.model_version, kind, found[0] if found else "")
    return ModelKind(key.model_version, kind, found[0], signals[0], signals[1])


KindsLookup = Callable[[str, str], ModelKind | None]


def kinds_lookup(store: Store) -> KindsLookup:
    """:func:`model_kind` of (deployment id, model version), asked once per pair; the deployment's service
    keys the baseline (two services may both call their model ``v1``). None for a model whose baseline is
    unreadable."""
    services = {d.id: d.service or d.name for d in store.load_deployments()}
    known: dict[tuple[str, str], ModelKind | None] = {}

    def lookup(deployment: str, version: str) -> ModelKind | None:
        if (deployment, version) not in known:
            key = ModelKey(services.get(deployment, deployment), version)
            try:
                known[(deployment, version)] = model_kind(store, key)
            except UnreadableBaselineError:
                known[(deployment, version)] = None
        return known[(deployment, version)]

    return lookup


def parse_number(text: str) -> float | None:
    """A finite number from text, else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _number_or_nan(text: str) -> float:
    value = parse_number(text)
    return math.nan if value is None else value


def step_aggregator(kinds: KindsLookup, step_s: int
                    ) -> Callable[[str, datetime, Sequence[LabelRecord]], Sequence[LabelStep]]:
    """The function the store calls with every label row of one deployment's step: one aggregate per
    baseline (classifiers) and one for the regressor rows. Rows of a version whose baseline is gone or
    unreadable wait, kept, until it is back."""

    def aggregate(deployment: str, start: datetime, rows: Sequence[LabelRecord]) -> Sequence[LabelStep]:
        groups: dict[tuple[str, str], list[LabelRecord]] = defaultdict(list)
        models: dict[str, ModelKind] = {}
        for r in rows:
            kind = kinds(deployment, r.model_version)
            if kind is None or kind.kind == UNKNOWN:
                continue
            models[kind.baseline_id] = kind
            groups[(kind.kind, kind.baseline_id if kind.kind == CLASSIFIER else "")].append(r)
        out = []
        for (kind_name, bid), items in sorted(groups.items()):
            if kind_name == CLASSIFIER:
                model = models[bid]
                assert model.column is not None  # a classifier always has its score column
                scores = np.array([np.nan if r.score is None else r.score for r in items], dtype=np.float64)
                payload = ClassifierLabels.from_rows(model.column, model.classes, scores,
                                                     np.array([r.predicted for r in items], dtype=object),
                                                     np.array([r.label for r in items], dtype=object)).to_dict()
            else:
                payload = RegressorLabels.from_rows([_number_or_nan(r.predicted) for r in items],
                                                    [_number_or_nan(r.label) for r in items]).to_dict()
            out.append(LabelStep(deployment, start, step_s, bid, kind_name, payload, len(items)))
        return out

    return aggregate
