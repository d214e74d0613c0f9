"""Collection as the commands and the demo run it: build the configured collectors, run them in
parallel, and hand each finished run to a callback (the progress bar)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from collectors.base import CollectorContext
from collectors.registry import build_collectors
from collectors.runner import run_all
from inferwatch.runtime import Runtime
from inferwatch.schema import CollectionRun
from inferwatch.store import Store


def collector_context(rt: Runtime, store: Store, endpoints: Mapping[str, str] | None = None) -> CollectorContext:
    def baselines(model_version: str) -> tuple[str, Mapping[str, Any]] | None:
        return store.load_latest_baseline(model_version)

    return CollectorContext(home=rt.home, env=rt.env, endpoints=dict(endpoints or {}), baselines=baselines)


def collect_once(
    rt: Runtime,
    store: Store,
    *,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[CollectionRun], None] | None = None,
) -> list[CollectionRun]:
    if rt.settings.of_provider("local"):
        from inferwatch.baselines import ensure_model_baselines

        ensure_model_baselines(store)  # the reference models' held-out baselines bin the local histograms
    collectors = build_collectors(rt.settings, collector_context(rt, store))
    if on_start is not None:
        on_start(len(collectors))
    return run_all(store, collectors, workers=rt.settings.collect.workers, on_done=on_done)
