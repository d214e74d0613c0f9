"""The Overview's window numbers, kept by each collection round: the same numbers computed live,
read back from either backend, replaced by the next round, and ignored once stale."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from inferwatch.config import Settings
from inferwatch.store import Store
from readmodels.overview import (
    KEPT_WINDOWS_S,
    build_overview,
    load_kept_window,
    load_window_costs,
    record_window_numbers,
)
from readmodels.status import latest_status
from tests.readmodels.test_status import NOW, _fill


def test_kept_numbers_are_the_live_numbers_read_back(store_url: str) -> None:
    store = Store.open(store_url)
    _fill(store, np.random.default_rng(3))
    settings = Settings()
    record_window_numbers(store, settings, NOW)
    for window_s in KEPT_WINDOWS_S:
        kept = load_kept_window(store, NOW + timedelta(seconds=30), window_s, max_age_s=180)
        assert kept is not None and kept.computed_at == NOW and kept.window_s == window_s
        assert list(kept.statuses) == latest_status(store, NOW, window_s=window_s)
        assert kept.costs == load_window_costs(store, settings, NOW, window_s)
        live = build_overview(store, settings, NOW, window_s=window_s)
        assert build_overview(store, settings, NOW, window_s=window_s, statuses=kept.statuses,
                              costs=kept.costs) == live
    assert any(s.last_seen is not None for s in kept.statuses)  # times survive the JSON round trip


def test_the_next_round_replaces_them_and_stale_ones_are_ignored(store_url: str) -> None:
    store = Store.open(store_url)
    _fill(store, np.random.default_rng(4))
    record_window_numbers(store, Settings(), NOW - timedelta(minutes=1))
    record_window_numbers(store, Settings(), NOW)
    assert store.count("kept_windows") == len(KEPT_WINDOWS_S)
    kept = load_kept_window(store, NOW, 900, max_age_s=180)
    assert kept is not None and kept.computed_at == NOW
    assert load_kept_window(store, NOW + timedelta(seconds=181), 900, max_age_s=180) is None  # collection stopped
    assert load_kept_window(store, NOW, 1800, max_age_s=180) is None  # a window nobody keeps
