"""The probe in window mode, end to end: a real baseline's bins file exported (``probe_bins_file``) and kept
by the store (``save_probe_bins``), the real probe run in a subprocess counting over it, its window lines
collected by the real local collector into a real store. The stored histograms are exactly what binning
the raw values gives, and drift is decided on them: unshifted traffic is not drift, shifted traffic is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from collectors.local import LocalCollector
from collectors.runner import run_one
from drift import Baseline, Status, WindowCounts, build_baseline, compare
from drift.probe_bins import probe_bins_file
from drift.window import merge_all
from inferwatch.schema import Metric, ModelKey
from inferwatch.store import Store
from readmodels.baselines import baseline_for

BID = "scorer-v1-base"
PROBE_RUN = '''
import json, sys
import numpy as np
from inferwatch_probe import Probe

rows = json.load(sys.stdin)
probe = Probe(task="binary", mode="window", flush_interval_s=3600)
columns = {k: np.asarray(v) for k, v in rows.items()}
n = len(columns["score"])
for i, part in enumerate(np.array_split(np.arange(n), 100)):
    with probe.invocation() as inv:
        inv.record(inputs={"age": columns["feature:age"][part], "income": columns["feature:income"][part],
                           "colour": columns["feature:colour"][part].tolist()},
                   scores=columns["score"][part], classes=columns["class"][part])
    if i % 25 == 24:
        probe.flush()  # four window lines
probe.close()
assert probe.health.unreported() == 0, "the probe reported its own failures"
'''


def traffic(n: int, seed: int, shift: float = 0.0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {"score": np.clip(rng.beta(2, 5, n) + shift, 0, 1), "class": rng.integers(0, 3, n),
            "feature:age": rng.poisson(30, n).astype(float) + 3 * shift * 10,
            "feature:income": rng.lognormal(10, 1, n) * (1 + 3 * shift),
            "feature:colour": rng.choice(["red", "white", "rose"], n)}


def run_probe(home: Path, deployment: str, bins: Path, rows: dict[str, Any]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERWATCH_")} | {
        "INFERWATCH_DEPLOYMENT": deployment, "INFERWATCH_SERVICE": "scorer", "INFERWATCH_MODEL_VERSION": "v1",
        "INFERWATCH_PROBE_BINS": str(bins), "INFERWATCH_TELEMETRY_DIR": str(home / "telemetry" / deployment)}
    payload = json.dumps({k: np.asarray(v).tolist() for k, v in rows.items()})
    subprocess.run([sys.executable, "-c", PROBE_RUN], input=payload, text=True, env=env, timeout=120, check=True)


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return build_baseline(traffic(20_000, seed=1), categorical={"class", "feature:colour"}, model_sha256="a" * 64,
                          version="v1")


def test_window_lines_of_the_real_probe_become_exact_histograms_and_drift(tmp_path: Path,
                                                                          baseline: Baseline) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    now = datetime.now(UTC)
    store.save_baseline(BID, service="scorer", model_version="v1", model_sha256="a" * 64, source="test",
                        payload=baseline.to_dict(),
                        created_at=now)
    content = probe_bins_file(BID, baseline)
    sha = store.save_probe_bins(content, baseline_id=BID, created_at=now)
    bins = tmp_path / "bins.json"
    bins.write_bytes(content)
    same, shifted = traffic(6_000, seed=2), traffic(6_000, seed=3, shift=0.1)
    run_probe(tmp_path, "scorer", bins, same)
    run_probe(tmp_path, "scorer-shifted", bins, shifted)

    keys: list[ModelKey] = []

    def baselines(key: ModelKey) -> tuple[str, Baseline] | None:
        keys.append(key)
        return baseline_for(store, key)

    def probe_bins(digest: str) -> dict[str, Any] | None:
        found = store.load_probe_bins(digest)
        return None if found is None else {"baseline_id": found[0], "content": found[1]}

    collector = LocalCollector(tmp_path, [], grace_s=0, baselines=baselines, probe_bins=probe_bins)
    run = run_one(store, collector, clock=lambda: datetime.now(UTC) + timedelta(minutes=2))
    assert run.status == "ok" and run.warnings == (), run.warnings
    assert keys and all(k == ModelKey("scorer", "v1", None) for k in keys)
    assert sum(p.value for p in store.load_metrics(metrics=[Metric.INVOCATIONS])) == 200
    assert sum(p.value for p in store.load_metrics(metrics=[Metric.ROWS])) == 12_000
    for deployment, rows in (("local:local:scorer", same), ("local:local:scorer-shifted", shifted)):
        stored: dict[str, list[WindowCounts]] = {}
        for h in store.load_histograms(deployments=[deployment]):
            assert h.baseline_id == BID
            stored.setdefault(h.signal, []).append(WindowCounts.from_dict(h.counts))
        merged = {signal: merge_all(windows) for signal, windows in stored.items()}
        assert set(merged) == set(rows)
        for signal, values in rows.items():  # exact: the raw values binned over the bins file's edges
            raw = WindowCounts.from_values(baseline.column(signal), values)
            got = merged[signal]
            expected = raw.counts if got.layout is None else raw.coarsened(got.layout)
            assert got.counts.tolist() == expected.tolist(), (deployment, signal)
        report = compare(baseline, [merged])
        if deployment.endswith("shifted"):
            for signal in ("score", "feature:age", "feature:income"):
                assert report.result(signal).status is Status.DRIFT, signal
        else:
            assert not report.drifted, [(r.signal, r.status) for r in report.results if r.status is Status.DRIFT]
    written = [json.loads(line) for f in (tmp_path / "telemetry").rglob("*.jsonl")
               for line in f.read_text().splitlines()]
    assert len(written) == 8 and {w["bins_sha256"] for w in written} == {sha}
    store.dispose()
