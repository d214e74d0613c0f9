"""Incremental reading of append-only JSON-lines files.

Files are identified by (device, inode), so a rotated file (renamed, same inode) continues from
its offset under its new name; a new file at an old name starts at 0; a truncated file restarts
with a warning; a half-written last line (no newline yet) is left for the next run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Line:
    file_key: str
    path: Path
    offset: int  # byte offset of the line's start
    end: int  # byte offset just past its newline
    text: bytes


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
        except FileNotFoundError:  # rotated or removed between listing and stat
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


def read_lines(state: FileState, max_bytes: int = 256 * 1024 * 1024) -> Iterator[Line]:
    """Complete lines from ``state.offset``; stops before a final line with no newline."""
    try:
        handle = state.path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        handle.seek(state.offset)
        offset = state.offset
        read = 0
        for raw in handle:
            if not raw.endswith(b"\n"):
                return  # half-written: the writer has not finished this line
            end = offset + len(raw)
            if raw.strip():
                yield Line(state.key, state.path, offset, end, raw.rstrip(b"\r\n"))
            offset = end
            read += len(raw)
            if read >= max_bytes:
                return
