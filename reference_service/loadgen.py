"""Open-loop load generator for the reference service (through the emulator's front door or one server).

Arrivals are a Poisson process at ``rate_per_s``: the send times are drawn up front from exponential gaps,
never from the answers, so a slow service sees the queue build up as it would in production (a closed
loop would slow down with the service and hide its latency). Optionally ``burst_size`` more requests
arrive at once every ``burst_every_s`` seconds (a client fanning out a batch), which is what makes
warm capacity spill over. Each request carries 1..n rows sampled from
the model's held-out inputs (``reference_service/model/heldout_<version>.npz``) plus Gaussian noise; after
``drift.after_s`` seconds the chosen features are shifted by ``drift.shift_sd`` standard deviations. A share
``malformed_fraction`` of requests is broken on purpose (bad JSON, wrong row length, NaN, strings, missing
``instances``, values out of the model card's range). Values of valid rows are clipped to the card's valid
range so that only the malformed requests are meant to be refused. Targets must be loopback addresses.

Usage::

    result = run_load("http://127.0.0.1:8000/services/scorer/predict", LoadProfile(rate_per_s=50), stop)
    python -m reference_service.loadgen http://127.0.0.1:8000/services/scorer/predict --rate 50 --duration 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from reference_service.emulator.errors import LoadGenError
from reference_service.emulator.inputs import InputSampler, Sampler

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
OUTCOMES = ("ok", "degraded", "client_error", "throttled", "server_error", "timeout", "connection_error", "skipped")
MAX_DURATION_S = 24 * 3600.0


def _finite(field_name: str, value: float, minimum: float, maximum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LoadGenError(field_name, f"{value!r} is not a finite number")
    if not minimum <= value <= maximum:
        raise LoadGenError(field_name, f"{value!r} is outside [{minimum:g}, {maximum:g}]")


@dataclass(frozen=True, slots=True)
class DriftSpec:
    """After ``after_s`` seconds, shift ``features`` by ``shift_sd`` held-out standard deviations."""

    after_s: float
    features: tuple[str, ...]
    shift_sd: float

    def __post_init__(self) -> None:
        _finite("drift.after_s", self.after_s, 0.0, MAX_DURATION_S)
        _finite("drift.shift_sd", self.shift_sd, -100.0, 100.0)
        object.__setattr__(self, "features", tuple(self.features))
        if not self.features:
            raise LoadGenError("drift.features", "name at least one feature to shift")


@dataclass(frozen=True, slots=True)
class LoadProfile:
    rate_per_s: float = 20.0  # mean arrival rate (Poisson)
    duration_s: float = 10.0  # stop sending after this long
    max_requests: int | None = None  # and after this many arrivals (sent or skipped)
    rows_min: int = 1  # rows per request, uniform in [rows_min, rows_max]
    rows_max: int = 1
    noise_sd: float = 0.1  # Gaussian noise, in held-out standard deviations per feature
    malformed_fraction: float = 0.0
    drift: DriftSpec | None = None
    model_version: str = "v1"  # whose held-out inputs to sample
    seed: int = 0
    max_in_flight: int = 32  # arrivals beyond this many outstanding requests are counted as skipped
    timeout_s: float = 15.0  # per request, client side
    burst_every_s: float | None = None  # also send ``burst_size`` requests at once every this many seconds
    burst_size: int = 0

    def __post_init__(self) -> None:
        _finite("rate_per_s", self.rate_per_s, 1e-3, 10_000.0)
        _finite("duration_s", self.duration_s, 0.0, MAX_DURATION_S)
        if self.max_requests is not None and (isinstance(self.max_requests, bool) or self.max_requests < 0):
            raise LoadGenError("max_requests", f"{self.max_requests!r} must be a non-negative integer")
        if not 1 <= self.rows_min <= self.rows_max <= 10_000:
            raise LoadGenError("rows_min", f"need 1 <= rows_min ({self.rows_min}) <= rows_max ({self.rows_max})")
        _finite("noise_sd", self.noise_sd, 0.0, 100.0)
        _finite("malformed_fraction", self.malformed_fraction, 0.0, 1.0)
        if not 1 <= self.max_in_flight <= 1024:
            raise LoadGenError("max_in_flight", f"{self.max_in_flight!r} is outside [1, 1024]")
        _finite("timeout_s", self.timeout_s, 0.01, 900.0)
        if self.burst_every_s is not None:
            _finite("burst_every_s", self.burst_every_s, 0.1, MAX_DURATION_S)
            if isinstance(self.burst_size, bool) or not 1 <= self.burst_size <= self.max_in_flight:
                raise LoadGenError("burst_size", f"{self.burst_size!r} is outside [1, max_in_flight "
                                                 f"{self.max_in_flight}]")


@dataclass(frozen=True, slots=True)
class LoadResult:
    sent_count: int  # requests sent (skipped arrivals excluded)
    rows_sent_count: int
    malformed_sent_count: int
    drifted_sent_count: int  # valid requests sent after the drift switch
    outcomes: Mapping[str, int]  # every name of OUTCOMES, 0 when none
    malformed_rejected_count: int  # malformed requests answered 4xx (should equal malformed_sent_count)
    valid_rejected_count: int  # valid requests answered 4xx (should be 0)
    by_deployment: Mapping[str, int]  # from the front door's X-Inferwatch-Deployment header
    cold_start_count: int  # answers marked X-Inferwatch-Cold-Start: 1
    latency_ms_p50: float | None  # client-side, over answered requests; None when nothing was answered
    latency_ms_p95: float | None
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcomes"] = dict(self.outcomes)
        data["by_deployment"] = dict(self.by_deployment)
        return data


def check_target(target_url: str) -> tuple[str, int, str]:
    """(host, port, path) of a loopback http URL; anything else is refused."""
    parts = urlsplit(target_url)
    if parts.scheme != "http":
        raise LoadGenError("target_url", f"{target_url!r}: only http:// on loopback is supported")
    if parts.hostname not in LOOPBACK_HOSTS:
        raise LoadGenError("target_url", f"{parts.hostname!r} is not a loopback host ({', '.join(LOOPBACK_HOSTS)})")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise LoadGenError("target_url", f"bad port in {target_url!r}") from exc
    return parts.hostname, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class _Tally:
    """Outcome counters shared by the sender threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.by_deployment: Counter[str] = Counter()
        self.cold = 0
        self.malformed_rejected = 0
        self.valid_rejected = 0
        self.latencies_ms: list[float] = []

    def record(self, outcome: str, malformed: bool, latency_ms: float | None, deployment: str | None,
               cold: bool) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if outcome == "client_error":
                if malformed:
                    self.malformed_rejected += 1
                else:
                    self.valid_rejected += 1
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)
            if deployment:
                self.by_deployment[deployment] += 1
            self.cold += int(cold)


def _classify(status: int, payload: bytes) -> str:
    if status == 200:
        try:
            degraded = json.loads(payload).get("degraded") is True
        except (ValueError, AttributeError):
            degraded = False
        return "degraded" if degraded else "ok"
    if status == 429:
        return "throttled"
    if status == 504:
        return "timeout"
    return "client_error" if 400 <= status < 500 else "server_error"


class _Worker(threading.Thread):
    """Sends queued requests over its own keep-alive connection; closes it when the queue says stop."""

    def __init__(self, target: tuple[str, int, str], timeout_s: float, jobs: queue.Queue[tuple[bytes, bool] | None],
                 slots: threading.Semaphore, tally: _Tally) -> None:
        super().__init__(name="loadgen-worker", daemon=True)
        self._host, self._port, self._path = target
        self._timeout_s = timeout_s
        self._jobs, self._slots, self._tally = jobs, slots, tally
        self._conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                try:
                    self._send(*job)
                finally:
                    self._slots.release()
        finally:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _exchange(self, body: bytes) -> http.client.HTTPResponse:
        for attempt in range(2):  # a keep-alive connection the server closed meanwhile gets one retry
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)
            try:
                self._conn.request("POST", self._path, body=body, headers={"Content-Type": "application/json"})
                return self._conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def _send(self, body: bytes, malformed: bool) -> None:
        start = time.perf_counter()
        try:
            response = self._exchange(body)
            payload = response.read()
            if response.will_close:
                self._drop()
        except TimeoutError:
            self._drop()
            self._tally.record("timeout", malformed, None, None, False)
            return
        except (OSError, http.client.HTTPException):
            self._drop()
            self._tally.record("connection_error", malformed, None, None, False)
            return
        self._tally.record(_classify(response.status, payload), malformed, (time.perf_counter() - start) * 1000.0,
                           response.getheader("X-Inferwatch-Deployment"),
                           response.getheader("X-Inferwatch-Cold-Start") == "1")


class _BodyMaker:
    """Draws request bodies in arrival order from one seeded generator (so a seed replays the same load)."""

    def __init__(self, profile: LoadProfile, sampler: Sampler) -> None:
        self._profile, self._sampler = profile, sampler
        self.rng = np.random.default_rng(profile.seed)
        self._shift: Any = None
        if profile.drift is not None:
            self._shift = sampler.shift_for(profile.drift.features, profile.drift.shift_sd)

    def make(self, elapsed_s: float) -> tuple[bytes, bool, bool, int]:
        """(body, malformed, drifted, rows)."""
        p, rng = self._profile, self.rng
        rows = int(rng.integers(p.rows_min, p.rows_max + 1))
        drifted = p.drift is not None and elapsed_s >= p.drift.after_s
        x = self._sampler.sample(rng, rows, p.noise_sd, self._shift if drifted else None)
        if p.malformed_fraction > 0 and rng.random() < p.malformed_fraction:
            kinds = self._sampler.malformed_kinds
            kind = kinds[int(rng.integers(0, len(kinds)))]
            return self._sampler.malformed(kind, x[0], rng), True, False, 1
        return json.dumps({"instances": x.tolist()}).encode(), False, drifted, rows


def run_load(target_url: str, profile: LoadProfile, stop_event: threading.Event | None = None, *,
             sampler: Sampler | None = None) -> LoadResult:
    """Send open-loop Poisson load to ``target_url`` until duration, max_requests or ``stop_event``.

    Blocks until every sent request is answered (or timed out), then returns the counts by outcome.
    """
    target = check_target(target_url)
    sampler = sampler or InputSampler.from_model_dir(profile.model_version)
    maker = _BodyMaker(profile, sampler)
    stop = stop_event or threading.Event()
    tally = _Tally()
    jobs: queue.Queue[tuple[bytes, bool] | None] = queue.Queue()
    slots = threading.Semaphore(profile.max_in_flight)
    workers = [_Worker(target, profile.timeout_s, jobs, slots, tally) for _ in range(profile.max_in_flight)]
    for worker in workers:
        worker.start()
    counts = Counter[str]()
    start = time.monotonic()
    try:
        _send_arrivals(profile, maker, stop, start, jobs, slots, counts)
    finally:
        for _ in workers:
            jobs.put(None)
        for worker in workers:
            worker.join()
    outcomes = {name: tally.outcomes.get(name, 0) for name in OUTCOMES}
    outcomes["skipped"] = counts["skipped"]
    latencies = np.asarray(tally.latencies_ms)
    p50, p95 = (None, None) if latencies.size == 0 else (
        float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95)))
    return LoadResult(
        sent_count=counts["sent"], rows_sent_count=counts["rows"], malformed_sent_count=counts["malformed"],
        drifted_sent_count=counts["drifted"], outcomes=outcomes, malformed_rejected_count=tally.malformed_rejected,
        valid_rejected_count=tally.valid_rejected, by_deployment=dict(tally.by_deployment),
        cold_start_count=tally.cold, latency_ms_p50=p50, latency_ms_p95=p95,
        elapsed_s=time.monotonic() - start,
    )


def _send_arrivals(profile: LoadProfile, maker: _BodyMaker, stop: threading.Event, start: float,
                   jobs: queue.Queue[tuple[bytes, bool] | None], slots: threading.Semaphore,
                   counts: Counter[str]) -> None:
    """Queue the Poisson arrivals (and the bursts) at their times until duration, max_requests or stop."""
    limit = math.inf if profile.max_requests is None else profile.max_requests
    next_at = maker.rng.exponential(1.0 / profile.rate_per_s)
    next_burst = profile.burst_every_s if profile.burst_every_s is not None else math.inf
    while counts["sent"] + counts["skipped"] < limit and min(next_at, next_burst) < profile.duration_s:
        at = min(next_at, next_burst)
        if stop.wait(max(0.0, at - (time.monotonic() - start))):
            return
        burst = next_burst <= next_at
        if burst:
            next_burst += profile.burst_every_s or math.inf
        for _ in range(profile.burst_size if burst else 1):
            if counts["sent"] + counts["skipped"] >= limit:
                return
            body, malformed, drifted, rows = maker.make(at)
            if not burst:
                next_at += maker.rng.exponential(1.0 / profile.rate_per_s)
            if not slots.acquire(blocking=False):
                counts["skipped"] += 1  # open loop: never wait for the service, count the arrival as lost
                continue
            jobs.put((body, malformed))
            counts.update(sent=1, rows=rows, malformed=int(malformed), drifted=int(drifted))


def _rows(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_service.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("target_url", help="loopback URL, e.g. http://127.0.0.1:8000/services/scorer/predict")
    parser.add_argument("--rate", type=float, default=20.0, help="mean requests per second (Poisson)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to send for")
    parser.add_argument("--max-requests", type=int, default=None)
    parser.add_argument("--rows", type=_rows, default=(1, 1), help="rows per request, N or MIN-MAX")
    parser.add_argument("--noise", type=float, default=0.1, help="noise in held-out standard deviations")
    parser.add_argument("--malformed", type=float, default=0.0, help="share of malformed requests")
    parser.add_argument("--drift-after", type=float, default=None, help="seconds before the drift switch")
    parser.add_argument("--drift-features", default="mean radius", help="comma-separated feature names")
    parser.add_argument("--drift-sd", type=float, default=2.0, help="shift in standard deviations")
    parser.add_argument("--model-version", default="v1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        drift = None if args.drift_after is None else DriftSpec(
            args.drift_after, tuple(f.strip() for f in args.drift_features.split(",")), args.drift_sd)
        profile = LoadProfile(rate_per_s=args.rate, duration_s=args.duration, max_requests=args.max_requests,
                              rows_min=args.rows[0], rows_max=args.rows[1], noise_sd=args.noise,
                              malformed_fraction=args.malformed, drift=drift, model_version=args.model_version,
                              seed=args.seed)
        result = run_load(args.target_url, profile)
    except LoadGenError as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        return 130
    print(json.dumps(result.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
