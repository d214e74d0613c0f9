"""Where lines go: stdout (Lambda, Cloud Run: CloudWatch Logs and Cloud Logging take JSON lines from it),
a file per instance process, or your own callable.

The file sink appends to ``<dir>/<instance_id>.jsonl``, one ``write()`` per line on an O_APPEND descriptor
(no buffering: a crash loses at most the line being written), and renames it to
``<instance_id>.<n>.jsonl`` (n = 1, 2, ...: higher is newer) once it reaches the rotation size; a renamed
file is complete and never written again. One file per instance process, so instances never interleave.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from inferwatch_probe.process import INSTANCE_ID_MAX_CHARS, check_safe_name


class Sink(Protocol):
    def write(self, line: str) -> None:
        """Write one JSON line (without its newline). May raise: the probe counts and drops the line."""


class StdoutSink:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        stream = self._stream or sys.stdout  # looked up per line: tests and runtimes replace sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()


class FileSink:
    def __init__(self, directory: Path, instance_id: str, *, rotate_bytes: int = 64 << 20) -> None:
        self.directory = directory
        self.instance_id = check_safe_name(instance_id, "instance_id", max_chars=INSTANCE_ID_MAX_CHARS)
        self.rotate_bytes = rotate_bytes
        self.path = directory / f"{instance_id}.jsonl"
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0

    def _open(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(fd).st_size
        return fd

    def _rotate(self, fd: int) -> int:
        os.close(fd)
        n = 1
        while (self.directory / f"{self.instance_id}.{n}.jsonl").exists():
            n += 1
        os.rename(self.path, self.directory / f"{self.instance_id}.{n}.jsonl")
        return self._open()

    def write(self, line: str) -> None:
        data = (line + "\n").encode()
        with self._lock:
            if self._fd is None:  # opened on first use: a broken folder costs lines, never the handler
                self._fd = self._open()
            if self._size and self._size + len(data) > self.rotate_bytes:
                self._fd = self._rotate(self._fd)
            os.write(self._fd, data)
            self._size += len(data)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class CallableSink:
    """Hands each line to ``fn`` (for example a queue, or another log shipper)."""

    def __init__(self, fn: Callable[[str], object]) -> None:
        self._fn = fn

    def write(self, line: str) -> None:
        self._fn(line)
