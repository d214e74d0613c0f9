"""What the operating system says about this process: when it started, its peak memory, its memory limit.

Everything here degrades to "unknown" (None or 0) off Linux instead of raising: the probe runs inside the
user's function and must never fail it.
"""

from __future__ import annotations

import math
import os
import re
import resource
import time

from inferwatch_probe.errors import ProbeConfigError

# The product's one rule for names that become file names, ids and metric dimensions (the shell's
# inferwatch/names.py and reference_service/names.py keep the same rule; a test checks all three agree):
# no '/' or '..' to climb out of a folder, no leading '.', no '.' (it ends an instance id in
# ``<instance_id>.<n>.jsonl``) and no ':' (it separates the parts of ``provider:region:name`` ids).
NAME_MAX_CHARS = 64
INSTANCE_ID_MAX_CHARS = NAME_MAX_CHARS + 32  # <deployment>-<pid>-<suffix>
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def name_problem(value: object, *, max_chars: int = NAME_MAX_CHARS) -> str | None:
    """Why ``value`` cannot be a name, or None when it can."""
    if not isinstance(value, str) or len(value) > max_chars or SAFE_NAME.fullmatch(value) is None:
        return (f"{value!r} is not a valid name: use 1-{max_chars} letters, digits, '_' or '-', "
                "starting with a letter or digit")
    return None


def check_safe_name(value: str, field: str, *, max_chars: int = NAME_MAX_CHARS) -> str:
    """``value`` if it is a valid name (deployments and instance ids become paths), else
    :class:`ProbeConfigError` naming the field."""
    problem = name_problem(value, max_chars=max_chars)
    if problem is not None:
        raise ProbeConfigError(problem, field=field, value=value)
    return value


def process_start_wall_s() -> float | None:
    """Wall-clock time (epoch seconds) this process started, from ``/proc/self/stat`` (field 22, clock
    ticks since boot, so 10 ms resolution at the usual 100 Hz), or None where /proc is missing."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        # the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
        start_ticks = int(stat[stat.rindex(b")") + 2:].split()[19])
        age_s = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.time() - max(age_s, 0.0)


class PeakMemory:
    """Peak resident memory of this process in MB.

    Linux's ``VmHWM`` first, read through a descriptor kept open (re-opening /proc each time costs more
    than the rest of an invocation line): ``ru_maxrss`` survives ``execve``, so a process spawned by a
    large parent would report the parent's peak. ``ru_maxrss`` (KiB on Linux) where /proc is missing.
    """

    def __init__(self, max_age_s: float = 0.0) -> None:
        self._pid = -1
        self._fd: int | None = None
        self._max_age_s = max_age_s
        self._read_at_s = -math.inf
        self._last_mb = 0.0

    def read_mb(self) -> float:
        """The peak; with ``max_age_s``, a reading at most that old (the kernel formats the whole status
        file for every read: 10 us, a tenth of the probe's budget per invocation)."""
        now = time.monotonic()
        if now - self._read_at_s > self._max_age_s:
            self._last_mb, self._read_at_s = self._read(), now
        return self._last_mb

    def _read(self) -> float:
        pid = os.getpid()
        if self._pid != pid:  # a forked child must not read its parent's file
            self._pid, self._fd = pid, None
            try:
                self._fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
            except OSError:
                pass
        if self._fd is not None:
            try:
                status = os.pread(self._fd, 8192, 0)
                at = status.find(b"VmHWM:")
                if at >= 0:
                    return int(status[at + 6:status.index(b"kB", at)]) / 1024
            except (OSError, ValueError):
                pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cgroup_memory_mb() -> int:
    """The container's memory limit in MB from cgroup v2 ``memory.max`` (Cloud Run sets it to the
    configured memory), or 0 when there is none."""
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            raw = f.read().strip()
    except OSError:
        return 0
    return int(raw) // (1 << 20) if raw.isdigit() else 0
