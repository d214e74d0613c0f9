"""One place from each package's error base to what a user of the ``inferwatch`` command sees: one line
and an exit code, never a traceback.

    error base                              exit   why
    CommandError                            its own  a verb's own refusal (a bad option, an unknown id)
    InferwatchError  (config, names, paths)  2      the user's input must change
    StoreError                              2      the store is misconfigured, unreachable or refuses a record
    CollectorError                          2      a provider cannot be used as configured
    DriftError, QualityError                2      a baseline, a window or labels cannot be used
    CostError                               2      a price catalogue, a report request or an import is wrong
    AlertError                              2      the alert rules or notifiers cannot be used
    OSError with a file name                2      a named file the system refuses (a folder, no permission)

Exit codes a verb returns on purpose (``collect`` 1 when a collector failed, ``drift check`` 1 on drift,
``alerts run`` 75 when another run holds the lock) are the verbs' own and documented in their help.
"""

from __future__ import annotations

from alerts.errors import AlertError
from collectors.errors import CollectorError
from costs.errors import CostError
from drift.errors import DriftError
from inferwatch.errors import InferwatchError
from inferwatch.paths import os_problem
from inferwatch.store import StoreError
from quality.errors import QualityError

EXIT_USAGE = 2


class CommandError(InferwatchError):
    """A verb refusing what it was asked, with its own exit code (2 unless said otherwise)."""

    def __init__(self, message: str, *, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# Order matters only for CommandError, a subclass of InferwatchError with its own code.
KNOWN_ERRORS: tuple[type[Exception], ...] = (InferwatchError, StoreError, CollectorError, DriftError,
                                            QualityError, CostError, AlertError)


def describe(exc: Exception) -> tuple[str, int] | None:
    """The line (without the ``inferwatch:`` prefix) and exit code for ``exc``; None for an error that is
    not the user's to fix (a bug: it propagates with its traceback)."""
    if isinstance(exc, CommandError):
        return str(exc), exc.exit_code
    if isinstance(exc, KNOWN_ERRORS):
        return str(exc), EXIT_USAGE
    if isinstance(exc, OSError) and exc.filename is not None:
        # Paths are checked where they enter (inferwatch.paths); a file the system still refuses (a folder
        # where a file was expected, no permission, a full disk) is the user's to fix too.
        return f"{exc.filename}: {os_problem(exc)}", EXIT_USAGE
    return None
