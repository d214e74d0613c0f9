"""A baseline from your own model and your reference data (`inferwatch baseline create --model --data`).

The model runs with onnxruntime on every reference row, fed exactly as the emulator feeds it
(``reference_service.model_io``), and its outputs and inputs are read by the probe's own code
(``inferwatch_probe``): the score, class or value and each feature are what the probe reports in your
handler in production, down to the float32 an input is fed as. So unshifted traffic matches the baseline
bin for bin, and only a real shift is drift.

Signals: ``score`` and ``class`` for classifiers (binary: the positive class's probability; multiclass:
the top class's), ``value`` for regressors, and ``feature:<column>`` per input column (string columns are
categorical). Every problem is one line naming the file, column or field; nothing is saved until all of
it is built.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from inferwatch_probe.inputs import batch_from_feed
from inferwatch_probe.outputs import OutputPlan
from inferwatch_probe.outputs import Prediction as ProbePrediction
from numpy.typing import NDArray

from drift import Baseline, DriftError, build_baseline
from drift.probe_bins import probe_bins_file
from inferwatch.names import check_name
from inferwatch.schema import ModelKey
from inferwatch.store import Store
from quality.baseline import reference_calibration
from quality.errors import QualityError
from readmodels.baselines import new_baseline_id, save_keyed_baseline
from reference_service.errors import ModelLoadError
from reference_service.model import ModelCard
from reference_service.model_io import model_feed
from reference_service.onnx_file import TASKS, ModelFile, card_for, read_model_file
from shell.exits import CommandError
from shell.reference_data import ReferenceDataError, ReferenceTable, read_frame, read_table

SMALL_REFERENCE_ROWS = 1_000
BATCH_ROWS = 4_096
_LABEL_TYPES = ("tensor(int64)", "tensor(int32)", "tensor(string)")


@dataclass(frozen=True)
class OwnBaseline:
    key: ModelKey
    baseline_id: str
    baseline: Baseline
    card: ModelCard
    bins: bytes  # the bins file for the probe (docs/telemetry.md), exported from this baseline
    source: str
    rows: int
    warnings: tuple[str, ...]
    table: ReferenceTable  # the reference rows, checked (the demo draws its traffic from them)


@dataclass(frozen=True)
class _Run:
    """The model's outputs and the probe's view of the inputs, over every reference row."""

    prediction: ProbePrediction
    features: dict[str, NDArray[Any]]  # name -> the values fed (numbers as float64, strings as objects)


def _model_error(exc: ModelLoadError) -> CommandError:
    return CommandError(f"model {exc.path}: {exc.reason}")


def _card(model: ModelFile, frame: pd.DataFrame, data: Path, version: str, input_name: str | None,
          label_column: str | None) -> ModelCard:
    """The card: feature names from the data's header (one 2-D input) or the model's inputs (one per column)."""
    columns = [c for c in frame.columns if c != label_column]
    if len(model.inputs) == 1:
        shape = model.inputs[0].shape
        width = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
        if width is not None and width != len(columns):
            label = f" besides the label column {label_column!r}" if label_column else ""
            shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
            hint = " (name a label column with --label-column, or drop the extra columns)" if len(columns) > width \
                else ""
            raise CommandError(f"{data}: the model's input {model.inputs[0].name!r} takes {width} columns, the data "
                               f"has {len(columns)}{label}: {shown}{hint}")
        names: Sequence[str] | None = columns
    else:
        missing = [i.name for i in model.inputs if i.name not in frame.columns]
        if missing:
            raise CommandError(f"{data}: the model's inputs {', '.join(repr(m) for m in missing)} are not columns of "
                               f"the data (a model with one input per column reads the column of the same name)")
        names = None
    try:
        return card_for(model, version=version, task="multiclass", input_name=input_name, feature_names=names)
    except ModelLoadError as exc:
        raise _model_error(exc) from exc


def model_rows(card: ModelCard, table: ReferenceTable) -> NDArray[Any]:
    """The rows in the card's feature order, as the service parses a request into them."""
    if card.all_numbers:
        block = np.column_stack([table.columns[n] for n in card.feature_names])
        return block.astype(card.dtype) if not card.column_inputs else block
    out = np.empty((table.rows, card.n_features), dtype=object)
    for j, name in enumerate(card.feature_names):
        out[:, j] = table.columns[name].tolist()
    return out


def _check_integers(card: ModelCard, table: ReferenceTable, path: Path) -> None:
    """Integer inputs take whole numbers: a 2.5 fed to an int64 input would be cut to 2 in silence."""
    for j, name in enumerate(card.feature_names):
        dtype = card.column_dtypes[j] if card.column_inputs else card.dtype
        if dtype.startswith("int"):
            values = table.columns[name]
            bad = np.flatnonzero(values != np.round(values))
            if bad.size:
                raise ReferenceDataError(path, f"{values[bad[0]]!r} is not a whole number (the model's input takes "
                                               f"{dtype})", column=name, row=int(bad[0]) + 2)


def _infer_task(model: ModelFile, raw: Any) -> str:
    """binary, multiclass or regression from the outputs: class labels or probabilities make a classifier,
    with two probability columns (or two labels seen) a binary one."""
    label_like = [o for o in model.outputs if o.type in _LABEL_TYPES and len(o.shape) <= 1]
    zipmap = [o for o in model.outputs if o.type.startswith("seq(map(")]
    if not label_like and not zipmap:
        return "regression"
    width = _probability_width(raw)
    return "binary" if width == 2 else "multiclass"


def _probability_width(raw: Any) -> int | None:
    if isinstance(raw, list):
        return len(raw[0]) if raw else None
    arr = np.asarray(raw)
    return int(arr.shape[1]) if arr.ndim == 2 else None


def _check_task(model: ModelFile, task: str, raw_probabilities: Any) -> None:
    label_like = [o.name for o in model.outputs if o.type in _LABEL_TYPES and len(o.shape) <= 1]
    if task == "regression" and label_like:
        raise CommandError(f"--task regression: the model gives class labels (output {label_like[0]!r}): its task "
                           "is binary or multiclass")
    width = _probability_width(raw_probabilities) if raw_probabilities is not None else None
    if task == "binary" and width is not None and width > 2:
        raise CommandError(f"--task binary: the model gives {width} class probabilities: its task is multiclass")


def _outputs(model: ModelFile, session: Any, feed: dict[str, NDArray[Any]], data: Path) -> list[Any]:
    try:
        outputs: list[Any] = session.run(None, feed)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types: the model refused the data
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise CommandError(f"model {model.path} refused the rows of {data}: {text}") from exc
    return outputs


def _plan(model: ModelFile, session: Any, outputs: list[Any], task: str | None) -> tuple[str, OutputPlan]:
    """The task (inferred from the first batch's outputs when not given) and the probe's output plan."""
    names = [o.name for o in session.get_outputs()]
    first = OutputPlan.from_outputs(task or "multiclass", session.get_outputs())
    raw = dict(zip(names, outputs, strict=True)).get(first.probabilities) if first.probabilities else None
    task = task or _infer_task(model, raw)
    _check_task(model, task, raw)
    return task, OutputPlan.from_outputs(task, session.get_outputs())


def _run(model: ModelFile, session: Any, card: ModelCard, x: NDArray[Any], task: str | None, data: Path
         ) -> tuple[str, _Run]:
    """Run the model over every row in batches; (the task, what the probe would see)."""
    names = [o.name for o in session.get_outputs()]
    input_names = [i.name for i in session.get_inputs()]
    parts: list[ProbePrediction] = []
    features: dict[str, list[NDArray[Any]]] = {}
    plan: OutputPlan | None = None
    for start in range(0, len(x), BATCH_ROWS):
        feed = model_feed(card, x[start:start + BATCH_ROWS])
        outputs = _outputs(model, session, feed, data)
        if plan is None:
            task, plan = _plan(model, session, outputs, task)
        assert task is not None
        parts.append(plan.predictions(task, names, outputs))
        batch = batch_from_feed(feed, input_names, None if card.column_inputs else card.feature_names)
        for j, name in enumerate(batch.numeric_names):
            assert batch.numeric is not None
            features.setdefault(name, []).append(np.asarray(batch.numeric[:, j], dtype=np.float64))
        for name, column in zip(batch.categorical_names, batch.categorical, strict=True):
            features.setdefault(name, []).append(np.asarray(column, dtype=object))
    assert task is not None
    return task, _Run(_merged(parts), {name: np.concatenate(chunks) for name, chunks in features.items()})


def _merged(parts: list[ProbePrediction]) -> ProbePrediction:
    def cat(values: list[Any]) -> Any:
        if any(v is None for v in values):
            return None
        return [v for part in values for v in part] if isinstance(values[0], list) else np.concatenate(values)

    return ProbePrediction(rows=sum(p.rows for p in parts), scores=cat([p.scores for p in parts]),
                           labels=cat([p.labels for p in parts]), values=cat([p.values for p in parts]))


def _signals(task: str, run: _Run, model: ModelFile) -> tuple[dict[str, Any], set[str]]:
    p = run.prediction
    signals: dict[str, Any] = {}
    categorical = set()
    if task == "regression":
        if p.values is None:
            raise CommandError(f"model {model.path}: no numeric output to take as the predicted value")
        signals["value"] = p.values
    else:
        if p.labels is None:
            raise CommandError(f"model {model.path}: neither class labels nor class probabilities among its outputs")
        if p.scores is not None:
            signals["score"] = p.scores
        signals["class"] = np.asarray([str(v) for v in (p.labels.tolist() if isinstance(p.labels, np.ndarray)
                                                        else p.labels)], dtype=object)
        categorical.add("class")
    for name, values in run.features.items():
        signals[f"feature:{name}"] = values
        if values.dtype == object:
            categorical.add(f"feature:{name}")
    return signals, categorical


def _label_text(value: Any) -> str:
    """A label as the class it names: 1, 1.0 and "1" are the class "1"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _calibrated(baseline: Baseline, task: str, run: _Run, labels: NDArray[Any], data: Path, column: str
                ) -> Baseline:
    """The baseline with its label calibration (the reference rows' accuracy per score bin)."""
    p = run.prediction
    if p.scores is None or p.labels is None:
        raise CommandError(f"--label-column {column}: the model gives no class probabilities to calibrate")
    predicted = [str(v) for v in (p.labels.tolist() if isinstance(p.labels, np.ndarray) else p.labels)]
    truth = [_label_text(v) for v in labels.tolist()]
    classes = sorted(set(predicted) | set(truth))
    try:
        return reference_calibration(baseline, classes, p.scores, predicted, truth)
    except QualityError as exc:
        raise CommandError(f"{data}: column {column!r}: cannot calibrate with these labels: {exc}") from exc


def build_own_baseline(model_path: Path, data_path: Path, *, service: str, version: str, task: str | None = None,
                       input_name: str | None = None, label_column: str | None = None) -> OwnBaseline:
    """Run the model on the reference data and build its baseline (see the module docstring)."""
    check_name("--service", service)
    check_name("--model-version", version)
    if task is not None and task not in TASKS:
        raise CommandError(f"--task {task!r}: one of {', '.join(TASKS)}")
    try:
        model, session = read_model_file(model_path, version)
    except ModelLoadError as exc:
        raise _model_error(exc) from exc
    frame = read_frame(data_path)
    if label_column is not None and label_column not in frame.columns:
        raise ReferenceDataError(data_path, f"no label column {label_column!r}")
    warnings: list[str] = []
    card = _card(model, frame, data_path, version, input_name, label_column)
    numeric = [n for j, n in enumerate(card.feature_names) if not card.kinds or card.kinds[j] == "number"]
    strings = [n for j, n in enumerate(card.feature_names) if card.kinds and card.kinds[j] == "string"]
    table, unused = read_table(data_path, numeric=numeric, strings=strings,
                               optional=[label_column] if label_column else [], frame=frame)
    _check_integers(card, table, data_path)
    task, run = _run(model, session, card, model_rows(card, table), task, data_path)
    signals, categorical = _signals(task, run, model)
    try:
        baseline = build_baseline(signals, categorical=categorical, model_sha256=model.sha256, version=version)
    except DriftError as exc:
        raise CommandError(f"cannot build the baseline from {data_path}: {exc}") from exc
    if label_column is not None:
        if task == "regression":
            warnings.append(f"--label-column {label_column}: label calibration is for classifiers; ignored")
        else:
            baseline = _calibrated(baseline, task, run, table.columns[label_column], data_path, label_column)
    warnings += _warnings(card, table.rows, unused, model)
    key = ModelKey(service, version, model.sha256)
    bid = new_baseline_id(key, baseline)
    return OwnBaseline(key, bid, baseline, replace(card, task=task), probe_bins_file(bid, baseline),
                       f"model {model_path.name} on {data_path.name}", table.rows, tuple(warnings), table)


def read_model_and_rows(model_path: Path, data_path: Path, *, input_name: str | None = None,
                        label_column: str | None = None) -> tuple[ModelFile, Any, ModelCard, NDArray[Any]]:
    """Your model file, an onnxruntime session of it, its card and the data's rows in its feature order,
    checked exactly as a baseline checks them (the same one-line errors), without running the model."""
    try:
        model, session = read_model_file(model_path)
    except ModelLoadError as exc:
        raise _model_error(exc) from exc
    frame = read_frame(data_path)
    if label_column is not None and label_column not in frame.columns:
        raise ReferenceDataError(data_path, f"no label column {label_column!r}")
    card = _card(model, frame, data_path, "model", input_name, label_column)
    numeric = [n for j, n in enumerate(card.feature_names) if not card.kinds or card.kinds[j] == "number"]
    strings = [n for j, n in enumerate(card.feature_names) if card.kinds and card.kinds[j] == "string"]
    table, _ = read_table(data_path, numeric=numeric, strings=strings, frame=frame)
    _check_integers(card, table, data_path)
    return model, session, card, model_rows(card, table)


def _warnings(card: ModelCard, rows: int, unused: list[str], model: ModelFile) -> list[str]:
    out = []
    if rows < SMALL_REFERENCE_ROWS:
        out.append(f"small reference: {rows} rows. Drift thresholds are learnt from the reference cut into 20 "
                   f"chunks, so with fewer than {SMALL_REFERENCE_ROWS:,} rows only large shifts are found: use "
                   "at least 1,000 rows, ideally 10,000 or more")
    if unused:
        out.append(f"columns the model does not take get no baseline: {', '.join(unused[:10])}")
    if not card.column_inputs and card.n_features > 1:
        names = ", ".join(repr(n) for n in card.feature_names[:4]) + (", ..." if card.n_features > 4 else "")
        out.append(f"the model's input {model.inputs[0].name!r} has no column names of its own: this baseline names "
                   f"its features by the data's header. In your handler pass the same names, "
                   f"probe.session(model, feature_names=[{names}]), or the probe reports them as "
                   f"{model.inputs[0].name}_0, {model.inputs[0].name}_1, ... and they never match")
    return out


def default_bins_path(model: Path) -> Path:
    """Where the probe's bins file goes by default: next to the model (ship them together)."""
    return model.with_name(f"{model.stem}.bins.json")


def save_own_baseline(store: Store, own: OwnBaseline, bins_out: Path, *, echo: Callable[[str], None],
                      warn: Callable[[str], None]) -> str:
    """Save the baseline and its bins file in the store (one transaction) and write the bins file; says
    what to set in the function. Nothing is saved if the file cannot be written."""
    tmp = bins_out.with_name(f".{bins_out.name}.tmp")
    try:
        tmp.write_bytes(own.bins)
    except OSError as exc:
        raise CommandError(f"--bins-out {bins_out}: cannot be written ({exc.strerror or exc})") from exc
    try:
        bid = save_keyed_baseline(store, own.key, own.baseline, source=own.source, created_at=datetime.now(UTC),
                                  probe_bins=own.bins)
        tmp.replace(bins_out)
    finally:
        tmp.unlink(missing_ok=True)
    size_kb = len(json.dumps(own.baseline.to_dict())) / 1024
    echo(f"baseline {bid} for service {own.key.service} model {own.key.model_version} (sha256 "
         f"{(own.key.model_sha256 or '')[:12]}, task {own.card.task}): {len(own.baseline.columns)} signals from "
         f"{own.rows:,} rows, {size_kb:.0f} KB ({own.source})")
    for warning in own.warnings:
        warn(f"warning: {warning}")
    sha = hashlib.sha256(own.bins).hexdigest()
    echo(f"bins file for the probe: {bins_out} (sha256 {sha[:12]}, stored with the baseline)")
    echo("set in your function (ship the bins file with it):")
    echo(f"  INFERWATCH_SERVICE={own.key.service} INFERWATCH_MODEL_VERSION={own.key.model_version} "
         f"INFERWATCH_TASK={own.card.task} INFERWATCH_PROBE_BINS={bins_out.name}")
    return bid
