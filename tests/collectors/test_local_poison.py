"""One poison telemetry line among good ones, through the real local collector into a real store
(SQLite and PostgreSQL): it is quarantined once with its file, offset and reason, and every good line
of every file is stored, run after run."""

from __future__ import annotations

import json
import os
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.local import LocalCollector
from collectors.runner import run_one
from inferwatch.schema import Deployment, Metric
from inferwatch.store import Store

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DEP = Deployment(id="local:local:scorer-v1", provider="local", region="local", name="scorer-v1",
                 service="scorer", model_version="v1", memory_mb=512)
GOOD_LINES = 100


def doc(ts: datetime, **fields: Any) -> dict[str, Any]:
    return {"_aws": {"Timestamp": int(ts.timestamp() * 1000)}, "Deployment": "scorer-v1", "ModelVersion": "v1",
            "Role": "stable", "RequestId": "r", "Status": "ok", "LatencyMs": 5.0, "ColdStart": 0, "MemoryMb": 512,
            "MaxMemoryUsedMb": 120.0, "Rows": 1, "PredictionScore": [0.9], "PredictedClass": [1]} | fields


def line(ts: datetime = T0 - timedelta(seconds=90), **fields: Any) -> str:
    return json.dumps(doc(ts, **fields))


# name -> (the line, what its quarantine reason names)
POISON = {
    "timestamp beyond any date": (line().replace('"Timestamp": 1795', '"Timestamp": 100000000000000000000, "x": 1795'),
                                  "_aws.Timestamp"),
    "100,000 open brackets": ("[" * 100_000, "nested deeper"),
    "dated ten years ago": (line(T0 - timedelta(days=3650)), "older than"),
    "dated a year ahead": (line(T0 + timedelta(days=365)), "ahead of the collector's clock"),
    "NaN score": (line().replace('"PredictionScore": [0.9]', '"PredictionScore": [NaN]'), "NaN"),
    "inf in InputSummary": (line(InputSummary={"mean radius": [1.0]}).replace("[1.0]", "[1e999]"), "infinity"),
    "Rows = 1e30": (line(Rows=1e30), "Rows"),
    "class index 1e999": (line().replace('"PredictedClass": [1]', '"PredictedClass": [1e999]'), "infinity"),
    "class index 2.5": (line(PredictedClass=[2.5]), "PredictedClass"),
    "score in a string": (line(PredictionScore=["0.9"]), "PredictionScore"),
    "latency 1e308 ms": (line(LatencyMs=1e308), "LatencyMs"),
    "NUL in Deployment": (line(Deployment="scorer\x00v1"), "Deployment"),
    "300-character Deployment": (line(Deployment="d" * 300), "Deployment"),
    "lone surrogate in ModelVersion": (line(ModelVersion="v\ud800"), "surrogate"),
    "slash in ModelVersion": (line(ModelVersion="../v1"), "ModelVersion"),
    "5,000-digit number": (line().replace('"Rows": 1', '"Rows": 1' + "0" * 5000), "not JSON"),
    "300 KB line": (line(Padding="x" * 300_000), "longer than"),
    "not an object": ("[1, 2, 3]", "not a JSON object"),
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", errors="surrogatepass") as handle:
        handle.write(text)


def good_lines(n: int = GOOD_LINES) -> str:
    return "".join(line(T0 - timedelta(seconds=100) + timedelta(milliseconds=400 * i)) + "\n" for i in range(n))


def invocations(store: Store) -> float:
    return sum(p.value for p in store.load_metrics(metrics=[Metric.INVOCATIONS]))


@pytest.mark.parametrize("case", sorted(POISON))
def test_a_poison_line_is_quarantined_once_and_the_good_lines_land(tmp_path: Path, store_url: str, case: str) -> None:
    poison, named = POISON[case]
    bad_file = tmp_path / "telemetry" / "scorer-v1" / "a.jsonl"
    write(bad_file, good_lines(3) + poison + "\n")
    write(tmp_path / "telemetry" / "scorer-v1" / "b.jsonl", good_lines())
    store = Store.open(store_url)
    c = LocalCollector(tmp_path, [DEP])
    first = run_one(store, c, clock=lambda: T0)
    second = run_one(store, c, clock=lambda: T0 + timedelta(minutes=2))
    assert (first.status, second.status) == ("partial", "ok"), first.error
    assert first.warnings[0].startswith("1 telemetry line quarantined") and named in first.warnings[0]
    assert invocations(store) == GOOD_LINES + 3
    assert store.quarantine_counts() == {"local": 1}  # once, though the open region was read twice
    [entry] = store.load_quarantine()
    assert (entry.source, entry.position) == (str(bad_file), len(good_lines(3).encode()))
    assert named in entry.reason
    store.dispose()


def test_an_ancient_line_costs_neither_memory_nor_years_of_zero_steps(tmp_path: Path) -> None:
    write(tmp_path / "telemetry" / "scorer-v1" / "a.jsonl", line(T0 - timedelta(days=3650)) + "\n")
    write(tmp_path / "telemetry" / "scorer-v1" / "b.jsonl", good_lines())
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    c = LocalCollector(tmp_path, [DEP], lookback_s=3600)
    tracemalloc.start()
    try:
        run = run_one(store, c, clock=lambda: T0)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert run.status == "partial" and invocations(store) == GOOD_LINES
    assert peak_bytes < 40 * 2**20  # on main: gigabytes (every minute of ten years zero-filled)
    steps = {p.start for p in store.load_metrics(metrics=[Metric.INVOCATIONS])}
    assert min(steps) >= T0 - timedelta(hours=1, minutes=2)  # zero steps over the lookback at most


def test_a_future_line_does_not_hold_the_offset(tmp_path: Path) -> None:
    f = tmp_path / "telemetry" / "scorer-v1" / "a.jsonl"
    write(f, line(T0 + timedelta(days=365)) + "\n" + good_lines())
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    run_one(store, LocalCollector(tmp_path, [DEP]), clock=lambda: T0 + timedelta(minutes=5))
    cursor = store.load_cursor("local") or {}
    [entry] = cursor["files"].values()
    assert entry["offset"] == f.stat().st_size  # every step is closed: nothing to re-read next run
    assert not store.load_metrics(start=T0 + timedelta(days=1))  # the future is not stored


def test_a_directory_named_like_a_telemetry_file_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "telemetry" / "scorer-v1" / "x.jsonl").mkdir(parents=True)
    write(tmp_path / "telemetry" / "scorer-v1" / "b.jsonl", good_lines())
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    run = run_one(store, LocalCollector(tmp_path, [DEP]), clock=lambda: T0)
    assert run.status == "ok" and invocations(store) == GOOD_LINES


def test_a_file_name_that_is_not_utf8_is_stored_as_an_escape(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "telemetry" / "scorer-v1"
    folder.mkdir(parents=True)
    name = os.fsdecode(b"i\xff.jsonl")  # undecodable bytes: a lone surrogate in Python, refused by PostgreSQL
    (folder / name).write_text("not json\n" + good_lines())
    store = Store.open(store_url)
    run = run_one(store, LocalCollector(tmp_path, [DEP]), clock=lambda: T0)
    assert run.status == "partial" and invocations(store) == GOOD_LINES
    [entry] = store.load_quarantine()
    assert entry.source == f"{folder}/i\\udcff.jsonl" and entry.position == 0
    store.dispose()
