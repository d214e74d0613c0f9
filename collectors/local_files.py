"""Incremental reading of append-only JSON-lines files.

Files are identified by (device, inode), so a rotated file (renamed, same inode) continues from
its offset under its new name; a new file at an old name starts at 0; a truncated file restarts
with a warning; a half-written last line (no newline yet) is left for the next run. A line longer
than ``max_line_bytes`` is never held in memory: it is skipped in chunks and yielded marked
``oversized``, so the caller can set it aside. Only regular files are read (a directory or a FIFO
named ``*.jsonl`` is not a telemetry file, and opening a FIFO would block).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO


@dataclass(frozen=True, slots=True)
class Line:
    file_key: str
    path: Path
    offset: int  # byte offset of the line's start
    end: int  # byte offset just past its newline
    text: bytes  # empty when oversized
    oversized: bool = False


@dataclass(frozen=True, slots=True)
class FileState:
    key: str
    path: Path
    offset: int


def file_key(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}"


def scan(root: Path, pattern: str = "*.jsonl") -> list[tuple[str, Path, int]]:
    """(key, path, size) of every matching file under ``root``, oldest first."""
    found: list[tuple[str, Path, int, float]] = []
    if not root.exists():
        return []
    for path in root.rglob(pattern):
        try:
            st = path.stat()
        except OSError:  # rotated or removed between listing and stat, or not ours to read
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        found.append((file_key(st), path, st.st_size, st.st_mtime))
    found.sort(key=lambda item: (item[3], str(item[1])))
    return [(k, p, s) for k, p, s, _ in found]


def plan_reads(root: Path, cursor_files: Mapping[str, Any], warnings: list[str]) -> list[FileState]:
    """Where to resume in each file found under ``root``."""
    states = []
    for key, path, size in scan(root):
        offset = int(cursor_files.get(key, {}).get("offset", 0))
        if offset > size:
            warnings.append(f"{path} shrank below the last read offset; reading it again from the start")
            offset = 0
        states.append(FileState(key, path, offset))
    return states


def read_lines(state: FileState, max_bytes: int = 256 * 1024 * 1024,
               max_line_bytes: int = 256 * 1024) -> Iterator[Line]:
    """Complete lines from ``state.offset``; stops before a final line with no newline. An
    ``OSError`` other than the file being gone (permissions, I/O) propagates to the caller."""
    try:
        handle = state.path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        handle.seek(state.offset)
        offset = state.offset
        while offset - state.offset < max_bytes:
            raw = handle.readline(max_line_bytes + 1)
            if not raw.endswith(b"\n") and len(raw) > max_line_bytes:
                rest = _rest_of_line(handle)
                if rest is None:
                    return  # still being written
                end = offset + len(raw) + rest
                yield Line(state.key, state.path, offset, end, b"", oversized=True)
            elif raw.endswith(b"\n"):
                end = offset + len(raw)
                if raw.strip():
                    yield Line(state.key, state.path, offset, end, raw.rstrip(b"\r\n"))
            else:
                return  # end of file, or a half-written line: the writer has not finished it
            offset = end


def _rest_of_line(handle: BinaryIO, chunk_bytes: int = 64 * 1024) -> int | None:
    """How many bytes up to and including the next newline, read in chunks; None at end of file."""
    skipped = 0
    while chunk := handle.readline(chunk_bytes):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            return skipped
    return None
