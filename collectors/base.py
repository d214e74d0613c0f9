"""The one seam every source implements, and the window arithmetic they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from drift import Baseline
from inferwatch.schema import CollectionBatch, ModelKey, floor_time

# A model (service, version, sha256 when known) -> (baseline id, Baseline) of the baseline its histograms
# are counted over, None when it has none. A stored baseline that cannot be read raises drift's
# UnreadableBaselineError (a DriftError): the collector then skips that model's histograms with a warning,
# and collects everything else.
BaselineLookup = Callable[[ModelKey], tuple[str, Baseline] | None]
# The sha256 a probe's window line names its bins file by -> that bins file (``inferwatch.bins/1``, as
# ``inferwatch baseline create`` exported it: with the baseline id and each numeric signal's layout),
# None when the store does not know it.
ProbeBinsLookup = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class CollectorContext:
    """What every provider factory gets besides the config: where local state lives, the
    environment to read credentials from, and (tests only) endpoint overrides."""

    home: Path
    env: Mapping[str, str] = field(default_factory=dict)
    endpoints: Mapping[str, str] = field(default_factory=dict)  # e.g. {"aws": "http://127.0.0.1:5000"}
    baselines: BaselineLookup | None = None  # the bins of prediction histograms
    probe_bins: ProbeBinsLookup | None = None  # the bins files probes count their window lines over


class Collector(Protocol):
    """A source of normalized records.

    ``collect`` is given the current time and the cursor it returned last time (None on a first
    run) and returns everything new plus its next cursor. It must be idempotent: re-collecting a
    window yields the same records, which the store upserts.
    """

    name: str

    def collect(self, now: datetime, cursor: Mapping[str, Any] | None) -> CollectionBatch: ...


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime  # inclusive, step-aligned
    end: datetime  # exclusive, step-aligned: only complete steps
    step_s: int


def plan_window(
    now: datetime, cursor: Mapping[str, Any] | None, *, step_s: int, lateness_s: int, lookback_s: int
) -> Window:
    """Resume from the last complete window, re-reading ``lateness_s`` before it because cloud
    metrics arrive late; a first run looks back ``lookback_s``. ``cursor["complete_until"]`` is
    an epoch second."""
    end = floor_time(now, step_s)
    earliest = end - timedelta(seconds=lookback_s)
    if cursor and "complete_until" in cursor:
        resume = datetime.fromtimestamp(int(cursor["complete_until"]), tz=end.tzinfo)
        start = max(earliest, floor_time(resume - timedelta(seconds=lateness_s), step_s))
    else:
        start = earliest
    return Window(start=min(start, end), end=end, step_s=step_s)


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    """One line of `inferwatch config check`: can this provider collect, and if not, why."""

    provider: str
    scope: str  # account/region, project, or home folder
    ok: bool
    detail: str
    missing_permissions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "scope": self.scope, "ok": self.ok, "detail": self.detail,
                "missing_permissions": list(self.missing_permissions)}
