"""`inferwatch telemetry validate`: a telemetry file checked line by line with the collectors' own parsers
(:func:`collectors.telemetry_lines.read_line`, so a line passes here exactly when the collector would take
it), and each line's model looked up the way collection looks it up (a baseline for its service and model
version), so an operator sees which lines would be quarantined, which would be counted but carry nothing
usable, and which would have no drift for want of a baseline.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.base import BaselineLookup
from collectors.local import MAX_LINE_BYTES
from collectors.local_telemetry import TelemetryLineError, decode_line
from collectors.telemetry_lines import Invocations, NothingUsable, line_kind, read_object
from collectors.window_lines import WindowLine
from drift.errors import DriftError
from inferwatch.schema import ModelKey


@dataclass(frozen=True, slots=True)
class LineCheck:
    """One line of a telemetry file: its kind, what is wrong with it, and its model's baseline."""

    line_number: int  # 1-based
    kind: str  # invocation | window | third-party EMF | not EMF
    problems: tuple[tuple[str, str], ...] = ()  # (field, message)
    model: ModelKey | None = None
    baseline_id: str | None = None
    note: str = ""  # e.g. "carried no metric Inferwatch reads (names: ...)", "no baseline"

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        model = None if self.model is None else {"service": self.model.service, "model_version":
                                                 self.model.model_version, "model_sha256": self.model.model_sha256}
        return {"line": self.line_number, "kind": self.kind, "ok": self.ok,
                "problems": [{"field": f, "message": m} for f, m in self.problems], "model": model,
                "baseline_id": self.baseline_id, "note": self.note}


@dataclass(slots=True)
class FileSummary:
    lines: int = 0
    bad: int = 0
    without_baseline: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, check: LineCheck) -> None:
        self.lines += 1
        self.bad += not check.ok
        self.without_baseline += check.ok and check.model is not None and check.baseline_id is None
        self.by_kind[check.kind] = self.by_kind.get(check.kind, 0) + 1


def check_file(path: Path, baselines: BaselineLookup | None, *, max_lines: int | None = None) -> Iterator[LineCheck]:
    """Every non-blank line of ``path`` checked (the first ``max_lines``). ``OSError`` propagates."""
    found: dict[ModelKey, tuple[str | None, str]] = {}
    with path.open("rb") as handle:
        number = 0
        while max_lines is None or number < max_lines:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := handle.readline(64 * 1024)) and not rest.endswith(b"\n"):
                    pass  # the rest of a line too long for any reader: skipped, never held
                yield LineCheck(number, "not EMF", (("<line>", f"longer than {MAX_LINE_BYTES} bytes"),))
            elif raw.strip():
                yield _check(number, raw.rstrip(b"\r\n"), baselines, found)


def _check(number: int, raw: bytes, baselines: BaselineLookup | None,
           found: dict[ModelKey, tuple[str | None, str]]) -> LineCheck:
    try:
        doc = decode_line(raw)
    except TelemetryLineError as exc:
        return LineCheck(number, "not EMF", exc.problems)
    kind = line_kind(doc)
    try:
        parsed = read_object(doc)
    except TelemetryLineError as exc:
        return LineCheck(number, kind, exc.problems)
    if isinstance(parsed, NothingUsable):
        what = "named no deployment" if parsed.reason == "no_deployment" else "carried no metric Inferwatch reads"
        return LineCheck(number, kind, note=f"{what} (names: {', '.join(parsed.metric_names) or 'none'})")
    model = _model(parsed)
    if model is None:
        return LineCheck(number, kind, note="no model version: no drift for this line")
    baseline_id, note = _baseline(model, baselines, found)
    return LineCheck(number, kind, model=model, baseline_id=baseline_id, note=note)


def _model(parsed: object) -> ModelKey | None:
    if isinstance(parsed, WindowLine):
        return parsed.model_key
    if isinstance(parsed, Invocations) and parsed.records and parsed.records[0].model_version:
        rec = parsed.records[0]
        return ModelKey(rec.service or rec.deployment, rec.model_version, rec.model_sha256)
    return None  # a cold start without an invocation, or a line that names no model version


def _baseline(model: ModelKey, baselines: BaselineLookup | None,
              found: dict[ModelKey, tuple[str | None, str]]) -> tuple[str | None, str]:
    if baselines is None:
        return None, "baselines not checked (no store)"
    if model not in found:
        try:
            hit = baselines(model)
            found[model] = (hit[0], "") if hit is not None else (None, "no baseline for this service and model")
        except DriftError as exc:
            found[model] = (None, f"baseline unreadable: {exc}")
    return found[model]


def folder_summaries(root: Path, baselines: BaselineLookup | None, *,
                     max_lines_per_folder: int = 10_000) -> list[tuple[Path, FileSummary, Sequence[str]]]:
    """Per folder of ``*.jsonl`` files under ``root``: a summary of its newest lines (at most
    ``max_lines_per_folder``, newest files first), and the files it could not read."""
    folders: dict[Path, list[Path]] = {}
    for path in sorted(root.rglob("*.jsonl")) if root.exists() else []:
        if path.is_file():
            folders.setdefault(path.parent, []).append(path)
    out: list[tuple[Path, FileSummary, Sequence[str]]] = []
    for folder, files in sorted(folders.items()):
        summary, unreadable = FileSummary(), list[str]()
        for path in sorted(files, key=_mtime, reverse=True):
            try:
                for check in check_file(path, baselines, max_lines=max_lines_per_folder - summary.lines):
                    summary.add(check)
            except OSError as exc:
                unreadable.append(f"{path.name}: {exc.strerror or exc}")
            if summary.lines >= max_lines_per_folder:
                break
        out.append((folder, summary, unreadable))
    return out


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # rotated away since it was listed: read last, and skipped if gone
        return 0.0
