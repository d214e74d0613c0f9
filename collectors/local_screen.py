"""What the local collector admits besides well-formed lines, and where it puts the rest.

A parsed line must also be dated inside a sane window around the collector's clock: one dated ten
years ago would make the first collection zero-fill every step since (gigabytes), one dated a year
ahead would be stored as the future and hold its file's resume offset for a year. Its deployment and
model version must be plain names, as in inferwatch.toml: they become store keys, and a NUL or a
300-character name makes PostgreSQL refuse the whole batch.

Lines that fail go to a :class:`Quarantine`: each counted once, the first :data:`SAMPLE_SIZE` kept
with where they are and why, stored with the batch and shown on the Sources page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from collectors.local_telemetry import TelemetryLineError, TelemetryRecord
from inferwatch.schema import QuarantinedRecord

SAMPLE_SIZE = 100
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # the pattern of a local deployment name in inferwatch.toml
SAFE_VERSION = re.compile(r"[A-Za-z0-9_.:+-]{1,64}")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Telemetry timestamps the collector accepts: [now - max_age_s, now + max_ahead_s], in epoch ms."""

    now: datetime
    max_age_s: int
    max_ahead_s: int

    @property
    def earliest_ms(self) -> int:
        return int((self.now - timedelta(seconds=self.max_age_s)).timestamp() * 1000)

    @property
    def latest_ms(self) -> int:
        return int((self.now + timedelta(seconds=self.max_ahead_s)).timestamp() * 1000)


def screen(rec: TelemetryRecord, window: TimeWindow) -> None:
    """Raise :class:`TelemetryLineError` when a parsed line is dated outside ``window`` or names its
    deployment or model version with anything but plain characters."""
    screen_fields(rec.timestamp_ms, rec.deployment, rec.model_version, window)


def screen_fields(timestamp_ms: int, deployment: str, model_version: str, window: TimeWindow,
                  *, time_field: str = "_aws.Timestamp") -> None:
    """:func:`screen` for any kind of line: its time, deployment and model version ("" when a line of
    another tool does not say)."""
    if timestamp_ms < window.earliest_ms:
        raise TelemetryLineError(f"{time_field} {_when(timestamp_ms)} is older than the "
                                 f"{window.max_age_s} s the collector accepts ([collect] max_age_s)",
                                 field=time_field)
    if timestamp_ms > window.latest_ms:
        raise TelemetryLineError(f"{time_field} {_when(timestamp_ms)} is more than {window.max_ahead_s} s "
                                 "ahead of the collector's clock ([collect] max_ahead_s)", field=time_field)
    if not SAFE_NAME.fullmatch(deployment):
        raise TelemetryLineError("Deployment must be 1-128 letters, digits, '_', '.' or '-'", field="Deployment")
    if model_version and not SAFE_VERSION.fullmatch(model_version):
        raise TelemetryLineError("ModelVersion must be 1-64 letters, digits or '_.:+-'", field="ModelVersion")


def _when(timestamp_ms: int) -> str:
    """The time of an epoch-ms timestamp, or the raw number when no date has it (year > 9999)."""
    try:
        return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(timestamp_ms)


@dataclass(slots=True)
class Quarantine:
    """The lines one run sets aside: how many, and the first ``limit`` of them in detail."""

    limit: int = SAMPLE_SIZE
    count: int = 0
    sample: list[QuarantinedRecord] = field(default_factory=list)

    def add(self, source: str, position: int, reason: str) -> None:
        self.count += 1
        if len(self.sample) < self.limit:
            self.sample.append(QuarantinedRecord(source, position, reason))

    def merge(self, other: Quarantine) -> None:
        self.count += other.count
        self.sample += other.sample[: self.limit - len(self.sample)]

    def summary(self) -> str | None:
        """One line for `inferwatch collect` and the run record, or None when nothing was set aside."""
        if not self.count:
            return None
        first = self.sample[0]
        lines = "line" if self.count == 1 else "lines"
        return (f"{self.count} telemetry {lines} quarantined (the Sources page lists them); "
                f"first: {first.source}@{first.position}: {first.reason}")
