"""Folders named by the user (--home, INFERWATCH_HOME, report --out): checked where they enter, so an
unusable one is one line naming it and the problem, never a traceback from deep inside a command."""

from __future__ import annotations

from pathlib import Path

from inferwatch.errors import PathError


def os_problem(exc: OSError) -> str:
    """``permission denied`` rather than ``[Errno 13] Permission denied: '/x'`` (the path is named already)."""
    return (exc.strerror or type(exc).__name__).lower()


def usable_folder(path: Path, *, what: str, create: bool = False) -> Path:
    """``path`` made absolute; PathError naming ``what`` when it is not a folder (a file, a device),
    cannot be reached, or does not exist and never could (it lies under a file: checked even without
    ``create``, so a command that only reads says so too), or, with ``create``, could not be made."""
    try:
        resolved = path.resolve()
        if resolved.exists():
            if not resolved.is_dir():
                raise PathError(what, path, "not a folder")
        else:
            ancestor = next(p for p in resolved.parents if p.exists())  # the root always exists
            if not ancestor.is_dir():
                raise PathError(what, path, f"cannot be made: {ancestor} is not a folder")
        if create:
            resolved.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PathError(what, path, os_problem(exc)) from exc
    return resolved

