"""Cached loaders. Keys are small (strings, ints); results are aggregated frames, never raw samples."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from inferwatch.store import Store
from readmodels.overview import OverviewRow, build_overview, load_kept_window
from readmodels.sources import source_health
from readmodels.sources import stale_after_s as limit
from readmodels.status import latest_status
from readmodels.versions import ServiceVersions, service_versions
from shell.runtime import Runtime

CACHE_TTL_S = 15
# Whole past buckets of long-range trends (an hour or more each) change only when late data lands in
# them: they are kept this long, so a month's sparklines read their month of roll-ups once, not on
# every refresh. A late point in a past bucket shows within this time.
PAST_BUCKETS_TTL_S = 600
MAX_POINTS_PER_SERIES = 1500
# Steps a chart may use: divisors of an hour, read from the points (at most 15 minutes, so a month
# never reads its minutes), then whole hours from the hourly rollups.
RESOLUTIONS = (60, 120, 300, 600, 900, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)


@st.cache_resource(show_spinner=False, max_entries=8)
def _runtime(home: str, config: str, store_url: str) -> Runtime:
    return Runtime.from_env()


def runtime() -> Runtime:
    """Settings from the environment, re-read when INFERWATCH_HOME/CONFIG/STORE_URL change."""
    env = os.environ
    return _runtime(env.get("INFERWATCH_HOME", ""), env.get("INFERWATCH_CONFIG", ""),
                    env.get("INFERWATCH_STORE_URL", ""))


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    return Store.open(url)


def store(url: str | None = None) -> Store:
    return _store(url or runtime().store_url)


def store_url() -> str:
    """Part of every cached loader's key, so two stores never share cached frames."""
    return runtime().store_url


def now_bucket(seconds: int = CACHE_TTL_S) -> int:
    """Current time rounded down: part of cache keys so cached data ages out with the clock."""
    now = int(datetime.now(UTC).timestamp())
    return now - now % seconds


def time_window(range_s: int, at: int) -> tuple[datetime, datetime]:
    """The span a page charts for a picked range: what :func:`load_metric_frame` loads."""
    end = datetime.fromtimestamp(at, tz=UTC) + timedelta(seconds=60)
    return end - timedelta(seconds=range_s), end


def resolution_for(range_s: int, max_points: int = MAX_POINTS_PER_SERIES) -> int:
    """Finest step that gives <= ``max_points`` points per series: long ranges come from rollups."""
    for step in RESOLUTIONS:
        if range_s / step <= max_points:
            return step
    return 86400


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def load_status_frame(url: str, window_s: int, at: int) -> pd.DataFrame:
    rows = latest_status(store(url), datetime.fromtimestamp(at, tz=UTC), window_s=window_s)
    return pd.DataFrame([r.as_dict() for r in rows])


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def load_metric_frame(
    url: str, deployments: tuple[str, ...], metrics: tuple[str, ...], range_s: int, at: int,
    max_points: int = MAX_POINTS_PER_SERIES,
) -> pd.DataFrame:
    """Long frame (deployment, metric, start, value) at a resolution that fits the range: at most
    ``max_points`` per series (a chart of many series asks for fewer each)."""
    start, end = time_window(range_s, at)
    rows = _metric_rows(url, deployments, metrics, start, end, resolution_for(range_s, max_points))
    frame = pd.DataFrame(rows, columns=["deployment", "metric", "start", "value"])
    frame["start"] = pd.to_datetime(frame["start"], unit="s", utc=True)
    return frame.sort_values("start", kind="stable") if not frame.empty else frame


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def load_trends(url: str, deployments: tuple[str, ...], metrics: tuple[str, ...], range_s: int, at: int,
                max_points: int) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(deployment, metric) -> its (epoch seconds, value) points over the range, oldest first, for
    sparklines (rows straight from the store: no frame, the table needs no more)."""
    start, end = time_window(range_s, at)
    step = resolution_for(range_s, max_points)
    rows = trend_rows(url, deployments, metrics, start, end, step)
    trends: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for dep, metric, epoch, value in sorted(rows, key=lambda row: row[2]):
        trends.setdefault((str(dep), str(metric)), []).append((float(epoch), round(float(value), 3)))
    return trends


def trend_rows(url: str, deployments: tuple[str, ...], metrics: tuple[str, ...], start: datetime, end: datetime,
               step: int) -> list[tuple[str, str, int, float]]:
    """What ``metric_rows`` gives for [start, end) at ``step``. With steps of an hour or more, the whole
    buckets between the first and the last come from :func:`_whole_buckets` (cached: they are past),
    and only the partial buckets at either end are read each time; buckets never straddle the cuts,
    so the rows are the same as one read's."""
    def read(a: datetime, b: datetime) -> list[tuple[str, str, int, float]]:
        return _metric_rows(url, deployments, metrics, a, b, step) if a < b else []

    first, last = ceil_epoch(start, step), int(end.timestamp()) // step * step
    if step < 3600 or first >= last:
        return read(start, end)
    lo, hi = datetime.fromtimestamp(first, tz=UTC), datetime.fromtimestamp(last, tz=UTC)
    return [*read(start, lo), *_whole_buckets(url, deployments, metrics, first, last, step), *read(hi, end)]


@st.cache_data(ttl=PAST_BUCKETS_TTL_S, max_entries=32, show_spinner=False)
def _whole_buckets(url: str, deployments: tuple[str, ...], metrics: tuple[str, ...], first: int, last: int,
                   step: int) -> list[tuple[str, str, int, float]]:
    return _metric_rows(url, deployments, metrics, datetime.fromtimestamp(first, tz=UTC),
                        datetime.fromtimestamp(last, tz=UTC), step)


def _metric_rows(url: str, deployments: tuple[str, ...], metrics: tuple[str, ...], start: datetime, end: datetime,
                 step: int) -> list[tuple[str, str, int, float]]:
    """The store's rows at ``step`` (no deployments: all of them)."""
    return store(url).metric_rows(deployments=list(deployments) or None, metrics=list(metrics), start=start,
                                  end=end, resolution_s=step)


def ceil_epoch(moment: datetime, step: int) -> int:
    epoch = int(moment.timestamp())
    return -(-epoch // step) * step


@st.cache_data(ttl=CACHE_TTL_S, max_entries=8, show_spinner=False)
def load_deployment_frame(url: str, at: int) -> pd.DataFrame:
    rows = [{"id": d.id, "provider": d.provider, "service": d.service, "model_version": d.model_version,
             "role": d.role, "memory_mb": d.memory_mb, "architecture": d.architecture,
             "slo_p99_ms": d.slo_p99_ms} for d in store(url).load_deployments()]
    return pd.DataFrame(rows, columns=["id", "provider", "service", "model_version", "role", "memory_mb",
                                       "architecture", "slo_p99_ms"])


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_source_frame(url: str, at: int) -> pd.DataFrame:

    rows = []
    for s in source_health(store(url), datetime.fromtimestamp(at, tz=UTC)):
        rows.append({"collector": s.collector, "state": s.state, "last_run": s.last_run,
                     "last_status": s.last_status, "last_success": s.last_success, "staleness_s": s.staleness_s,
                     "consecutive_failures": s.consecutive_failures, "last_error": s.last_error,
                     "quarantined": s.quarantined_count, "warnings": "; ".join(s.warnings),
                     "host": (f"{s.host} (collecting now)" if s.collecting_now else s.host)})
    return pd.DataFrame(rows, columns=["collector", "state", "last_run", "last_status", "last_success",
                                       "staleness_s", "consecutive_failures", "last_error", "quarantined",
                                       "warnings", "host"])


@st.cache_data(ttl=CACHE_TTL_S, max_entries=4, show_spinner=False)
def load_quarantine_frame(url: str, at: int, limit: int = 200) -> pd.DataFrame:
    """The newest inputs the collectors set aside: where each is and why."""
    rows = [e._asdict() for e in store(url).load_quarantine(limit=limit)]
    return pd.DataFrame(rows, columns=["collector", "source", "position", "reason", "first_seen"])


def stale_after_s() -> float:

    return limit(runtime().settings)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_versions(url: str, window_s: int, slo_p99_ms: float, at: int) -> list[ServiceVersions]:
    """Per service: its versions' numbers, shadow agreement and canary verdicts."""
    return service_versions(store(url), datetime.fromtimestamp(at, tz=UTC), window_s=window_s, slo_p99_ms=slo_p99_ms)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def load_overview_frame(url: str, window_s: int, at: int) -> tuple[pd.DataFrame, datetime]:
    """One row per deployment, worst first, and the time its numbers are as of: those the latest
    collection round kept while they are not stale (the banner's limit), else computed now. Health
    is judged here either way, with the alerts firing and the drift decided now
    (readmodels.overview does the judging)."""
    now, settings = datetime.fromtimestamp(at, tz=UTC), runtime().settings
    kept = load_kept_window(store(url), now, window_s, max_age_s=stale_after_s())
    if kept is None:
        rows, as_of = build_overview(store(url), settings, now, window_s=window_s), now
    else:
        rows = build_overview(store(url), settings, now, window_s=window_s, statuses=kept.statuses,
                              costs=kept.costs)
        as_of = kept.computed_at
    columns = list(OverviewRow.__dataclass_fields__)
    return pd.DataFrame([r.as_dict() for r in rows], columns=columns), as_of
