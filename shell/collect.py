"""Collection as the commands and the demo run it: build the configured collectors, run them in
parallel (each unit leased, so processes sharing the store split the work), and hand each finished run
and each unit left to another process to a callback (the progress bar)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from collectors.base import CollectorContext
from collectors.registry import build_collectors
from collectors.runner import Round, run_round
from costs.advice_model import AdvicePolicy
from costs.errors import CostError
from drift import Baseline, DriftError
from inferwatch.schema import CollectionRun, ModelKey
from inferwatch.store import LeaseRefusal, Store, StoreError
from readmodels.baselines import baseline_for
from readmodels.drift_status import record_drift
from readmodels.exposition_kept import record_exposition_figures
from readmodels.overview import record_window_numbers
from shell.reference_baselines import ensure_model_baselines, reference_keys
from shell.runtime import Runtime

log = logging.getLogger(__name__)


def collector_context(rt: Runtime, store: Store, endpoints: Mapping[str, str] | None = None) -> CollectorContext:
    """What the collectors get: where state lives, the environment, and the store's baselines and probe
    bins files to count histograms over."""

    def baselines(key: ModelKey) -> tuple[str, Baseline] | None:
        # the service's own (exact model file first); an unreadable one raises, naming it: its model loses
        # drift, the rest is collected
        return baseline_for(store, key)

    def probe_bins(sha256: str) -> Mapping[str, Any] | None:
        found = store.load_probe_bins(sha256)
        return None if found is None else {"baseline_id": found[0], "content": found[1]}

    return CollectorContext(home=rt.home, env=rt.env, endpoints=dict(endpoints or {}), baselines=baselines,
                            probe_bins=probe_bins)


def collect_once(
    rt: Runtime,
    store: Store,
    *,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[CollectionRun], None] | None = None,
    on_skip: Callable[[LeaseRefusal], None] | None = None,
    once_per_interval: bool = False,
) -> Round:
    """One round of every configured collector. With ``once_per_interval`` (``inferwatch collect``,
    run by a schedule on one host or several), a unit collected during the current ``[collect]
    interval_s`` by any process sharing the store is skipped; else (the demo) only units another process
    holds right now are."""
    # the reference models' held-out baselines, for the services that serve them, bin their histograms
    ensure_model_baselines(store, reference_keys(rt.settings))
    collectors = build_collectors(rt.settings, collector_context(rt, store))
    if on_start is not None:
        on_start(len(collectors))
    collect = rt.settings.collect
    done = run_round(store, collectors, workers=collect.workers, lease_s=collect.lease_s,
                     round_s=collect.interval_s if once_per_interval else None, on_done=on_done, on_skip=on_skip)
    if any(run.points_written for run in done.runs):
        now = datetime.now(UTC)
        record_collected_drift(rt, store, now)
        record_collected_numbers(rt, store, now)
        record_collected_figures(rt, store, now)
    return done


def record_collected_drift(rt: Runtime, store: Store, now: datetime) -> None:
    """Decide drift once per collection round with the configured ``[drift]`` settings (the overview
    and the Drift page's summary read these decisions). A failure is logged, never fatal: the
    collected data is already safe, and the next round tries again."""
    try:
        settings = rt.sections.drift
        record_drift(store, now, window_s=settings.window_s, n_windows=settings.windows, policy=settings.policy)
    except (DriftError, StoreError) as exc:
        log.warning("drift was not decided after this collection: %s", exc)


def record_collected_numbers(rt: Runtime, store: Store, now: datetime) -> None:
    """Keep the Overview's window numbers (statuses and costs) as of this round. A failure is logged,
    never fatal: the Overview then computes them live."""
    try:
        record_window_numbers(store, rt.settings, now)
    except (CostError, StoreError) as exc:
        log.warning("the overview's numbers were not kept after this collection: %s", exc)


def record_collected_figures(rt: Runtime, store: Store, now: datetime) -> None:
    """Keep the figures the Prometheus exporter serves beyond the Overview's (errors by cause, warm
    capacity, advice savings). A failure is logged, never fatal: the exporter serves what it has."""

    try:
        record_exposition_figures(store, rt.settings, now, rt.sections.prices,
                                  policy=AdvicePolicy(cold_start_rate_slo=rt.settings.slo.cold_start_rate))
    except (CostError, StoreError) as exc:
        log.warning("the exporter's figures were not kept after this collection: %s", exc)
