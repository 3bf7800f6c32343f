"""Stopping a component cleanly on SIGTERM or Ctrl-C.

A :class:`StopSignal` is a flag plus a file descriptor that becomes readable when the flag is
set, so a poll loop wakes at once (also when the signal arrives during a blocking poll).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable

__all__ = ["StopSignal"]


class StopSignal:
    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.is_set = False
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._restore: Callable[[], None] | None = None

    def fileno(self) -> int:
        return self._reader.fileno()

    def set(self) -> None:
        """Ask to stop (safe from a signal handler or another thread)."""
        self.is_set = True
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")

    def drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._reader.recv(4096):
                pass

    def install(self) -> None:
        """Route SIGTERM and SIGINT to :meth:`set` (main thread only; a no-op elsewhere)."""
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, _frame: object) -> None:
            if self.is_set:
                os._exit(128 + signum)  # a second signal: the user insists
            self.logger.info("Got %s, stopping", signal.Signals(signum).name)
            self.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(old_fd)

        self._restore = restore

    def close(self) -> None:
        if self._restore is not None:
            self._restore()
            self._restore = None
        self._reader.close()
        self._writer.close()
