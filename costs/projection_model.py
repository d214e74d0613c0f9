"""What a deployment projection starts from: the profile measured on this machine and the settings (traffic,
SLO, assumptions), and the two rules every projection shares: how CPU work stretches on a smaller CPU
share, and how much memory a model needs. See :mod:`costs.projection`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from costs.catalogue import SECONDS_PER_MONTH
from costs.errors import ProjectionInputError
from costs.right_sizing import LAMBDA_MAX_MB

# The sizes AWS Lambda Power Tuning is usually run at, plus 1,769 MB (one full vCPU).
LAMBDA_LADDER_MB = (128, 256, 512, 1024, 1536, 1769, 2048, 3008, 4096, 6144, 8192, 10240)


@dataclass(frozen=True, slots=True)
class MeasuredProfile:
    """What the profiler measured on this machine, where a process has one full core to itself and
    inference runs single-threaded (as the emulator runs it)."""

    init_ms: float  # interpreter start, imports, model read, session creation: Lambda's INIT phase
    first_inference_ms: float
    peak_memory_mb: float  # peak RSS of the process
    p50_ms: float  # warm requests of one row
    p95_ms: float
    mean_ms: float
    cpu_fraction: float  # CPU time / wall time of those requests, 0..1
    throughput_rps: float  # requests of one row per second one process sustains, sent one after another


@dataclass(frozen=True, slots=True)
class ProjectionSettings:
    """The traffic and the assumptions; the command's options, validated here (the field names the option)."""

    rps: float
    slo_p95_ms: float
    arm64_factor: float = 1.0  # CPU time on arm64 / on x86_64; 1.0: as fast (not measured)
    memory_headroom: float = 0.30  # kept above the peak memory measured
    cold_start_share: float = 0.01  # share of requests that meet a cold start
    target_utilization: float = 0.60  # of an instance's capacity, where Cloud Run adds instances
    lambda_memory_mb: tuple[int, ...] = LAMBDA_LADDER_MB
    cloud_run_vcpus: tuple[float, ...] = (1.0, 2.0, 4.0)
    max_concurrency: int = 80  # Cloud Run's default per-instance request concurrency
    max_cold_start_ms: float | None = None  # a configuration whose cold start takes longer misses the SLO
    lambda_region: str | None = None  # None: the catalogue's default region
    cloud_run_region: str = "us-central1"

    def __post_init__(self) -> None:
        _positive("--rps", self.rps)
        _positive("--slo-ms", self.slo_p95_ms)
        _positive("--arm64-factor", self.arm64_factor)
        if self.max_cold_start_ms is not None:
            _positive("--max-cold-start-ms", self.max_cold_start_ms)
        if not 0.0 <= self.memory_headroom <= 10.0 or not math.isfinite(self.memory_headroom):
            raise ProjectionInputError(f"--headroom: {self.memory_headroom!r} is outside 0..10", field="--headroom")
        for name, value in (("--cold-start-share", self.cold_start_share),
                            ("--target-utilization", self.target_utilization)):
            if not 0.0 <= value <= 1.0 or (name == "--target-utilization" and value == 0.0):
                raise ProjectionInputError(f"{name}: {value!r} is outside 0..1", field=name)
        if not self.lambda_memory_mb or any(not 128 <= m <= LAMBDA_MAX_MB for m in self.lambda_memory_mb):
            raise ProjectionInputError("lambda_memory_mb: sizes must be within 128..10240 MB", field="lambda_memory_mb")


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ProjectionInputError(f"{name}: must be a number > 0, got {value!r}", field=name)


def stretched_ms(measured_ms: float, cpu_fraction: float, factor: float) -> float:
    """``measured_ms`` whose CPU part (``cpu_fraction`` of it) takes ``factor`` times longer; the rest does not.

    Parameters
    ----------
    measured_ms
        A time measured with a full core.
    cpu_fraction
        The part of it spent on the CPU, 0..1.
    factor
        How many times longer CPU work takes (the CPU-share slowdown times the architecture's factor).

    Returns
    -------
    float
    """
    f = min(max(cpu_fraction, 0.0), 1.0)
    return measured_ms * (1.0 - f) + measured_ms * f * factor


def meets_slo(settings: ProjectionSettings, p95_ms: float, cold_start_ms: float) -> bool:
    """Warm p95 within the SLO, and the cold start within its limit when one is set."""
    cold_ok = settings.max_cold_start_ms is None or cold_start_ms <= settings.max_cold_start_ms
    return p95_ms <= settings.slo_p95_ms and cold_ok


def needed_memory_mb(profile: MeasuredProfile, settings: ProjectionSettings) -> float:
    """The peak memory measured plus the headroom kept above it."""
    return profile.peak_memory_mb * (1.0 + settings.memory_headroom)


def monthly_requests(settings: ProjectionSettings) -> float:
    return settings.rps * SECONDS_PER_MONTH
