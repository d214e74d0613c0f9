"""Window lines at the end of a process: at exit (atexit) and on SIGTERM, which Cloud Run sends before
stopping an instance (and Lambda before shutting down an environment with extensions). An existing
SIGTERM handler is chained: it runs after the flush; without one, the default action (terminate) follows.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from inferwatch_probe.measure import Health


class ExitFlush:
    def __init__(self, flush: Callable[[str], None], health: Health) -> None:
        self._flush = flush
        self._health = health
        self._previous: Any = None
        self._installed = False

    def install(self) -> None:
        atexit.register(self._flush, "exit")
        if threading.current_thread() is not threading.main_thread():
            self._health.fail("SIGTERM hook", "the Probe was built outside the main thread, where signal "
                              "handlers cannot be installed; the window is still written at exit")
            return
        try:
            self._previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)
            self._installed = True
        except (ValueError, OSError) as exc:
            self._health.fail("SIGTERM hook", exc)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._flush("sigterm")
        previous = self._previous
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # the default action: terminate, as if we were not here
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    def uninstall(self) -> None:
        """Undo ``install``; the SIGTERM handler is restored only if ours is still the one installed."""
        atexit.unregister(self._flush)
        if self._installed and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self._previous if self._previous is not None else signal.SIG_DFL)
            self._installed = False
