"""How a cloud collector puts the probe's window-line numbers beside the cloud's own, per step: the
cloud's exact metrics win, window lines stand in for them only at the steps the cloud has not been read
for yet (``cloud_until`` on: ``[collect] cloud_metrics_interval_s``), and give everything the cloud lacks.

Timeouts are the larger of the two counts: the probe also counts a handler that answered within its
deadline margin, the platform also counts a kill the probe did not see.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from inferwatch.schema import Metric as M
from inferwatch.schema import MetricPoint


def combine(platform: Iterable[MetricPoint], window: Iterable[MetricPoint], *, cloud_metrics: Collection[str],
            platform_only: Collection[str] = (), cloud_until: datetime | None) -> list[MetricPoint]:
    """``platform`` (the cloud's points) with ``window``'s: a window point of ``platform_only`` never, of
    ``cloud_metrics`` only from ``cloud_until`` on, of any other metric where the platform has none."""
    out = {(p.deployment, p.metric, p.start): p for p in platform}
    for p in window:
        if p.metric in platform_only or (p.metric in cloud_metrics and cloud_until is not None
                                         and p.start < cloud_until):
            continue
        key = (p.deployment, p.metric, p.start)
        known = out.get(key)
        if known is None:
            out[key] = p
        elif p.metric == M.TIMEOUTS and p.value > known.value:
            out[key] = replace(known, value=p.value)
    return list(out.values())


def cloud_due(last: datetime | None, window_end: datetime, interval_s: int) -> bool:
    """Whether the cloud's metrics are to be read in a run whose window ends at ``window_end``."""
    return last is None or (window_end - last).total_seconds() >= interval_s


def cursor_time(cursor: Mapping[str, Any] | None, key: str) -> datetime | None:
    """``cursor[key]`` (an epoch second) as a UTC time, None when absent."""
    raw = (cursor or {}).get(key)
    return datetime.fromtimestamp(int(raw), tz=UTC) if raw is not None else None
