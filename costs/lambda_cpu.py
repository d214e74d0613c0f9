"""How much CPU Lambda gives a function at a memory size: the one model the product uses for it.

Lambda allocates CPU in proportion to configured memory: 1,769 MB is one full vCPU, less memory gives
that share of one vCPU's time, more gives more vCPUs, up to 6 at 10,240 MB (AWS Lambda developer guide,
"Memory and computing power"). A single-threaded inference cannot use more than one vCPU, so it runs at
full speed from 1,769 MB up and ``1 / share`` times slower below.
"""

from __future__ import annotations

import math

LAMBDA_MB_PER_VCPU = 1_769
LAMBDA_MAX_VCPUS = 6.0


def lambda_vcpus(memory_mb: float) -> float:
    """vCPUs Lambda gives a function of ``memory_mb`` (a fraction of one below 1,769 MB)."""
    if not math.isfinite(memory_mb) or memory_mb <= 0:
        raise ValueError(f"memory_mb must be a finite number > 0, got {memory_mb!r}")
    return min(memory_mb / LAMBDA_MB_PER_VCPU, LAMBDA_MAX_VCPUS)


def single_thread_slowdown(memory_mb: float) -> float:
    """How many times longer CPU-bound single-threaded work takes at ``memory_mb`` than on one full vCPU."""
    return 1.0 / min(1.0, lambda_vcpus(memory_mb))
