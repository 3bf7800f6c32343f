"""The processes a benchmark run starts: launched, watched with deadlines, always reaped.

Every child runs in its own session (so a Ctrl-C in the terminal reaches only the
orchestrator, which then stops the children itself) and, on Linux, gets SIGTERM if
the orchestrator dies. ``ProcessGroup`` stops what it started by PID: SIGTERM, a
grace period, then SIGKILL.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

STOP_GRACE_S = 5.0
POLL_INTERVAL_S = 0.02
_PR_SET_PDEATHSIG = 1


class Unavailable(Exception):
    """The project under test lacks the feature a workload needs."""


class RunFailed(Exception):
    """A benchmark process crashed, timed out or printed no result."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_tcp_address() -> str:
    """A loopback TCP address on a port the OS just handed out (then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


class Launched:
    """One child process and the file its stdout and stderr go to."""

    def __init__(self, name: str, popen: subprocess.Popen, log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_for_line(self, text: str, deadline: float, unavailable_status: int) -> None:
        """Poll the log until a line equals ``text``; fail early if the process exits."""
        while True:
            if any(line.strip() == text for line in self.output().splitlines()):
                return
            status = self.popen.poll()
            if status == unavailable_status:
                raise Unavailable(self._unavailable_reason())
            if status is not None:
                raise RunFailed(f"{self.name} exited with status {status}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RunFailed(f"{self.name} printed no {text!r} in time:\n{self.tail()}")
            time.sleep(POLL_INTERVAL_S)

    def _unavailable_reason(self) -> str:
        for line in self.output().splitlines():
            if line.startswith("UNAVAILABLE:"):
                return line.removeprefix("UNAVAILABLE:").strip()
        return f"{self.name} reported a missing feature"

    def result_line(self) -> str:
        for line in reversed(self.output().splitlines()):
            if line.startswith("RESULT "):
                return line.removeprefix("RESULT ")
        raise RunFailed(f"{self.name} printed no result:\n{self.tail()}")


class ProcessGroup:
    """Starts processes, and stops every one of them on exit (also on Ctrl-C)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.launched: list[Launched] = []

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> Launched:
        log_path = self.log_dir / f"{len(self.launched):02d}-{name}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        launched = Launched(name, popen, log_path)
        self.launched.append(launched)
        return launched

    def run(
        self, name: str, argv: Sequence[str], timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> Launched:
        """Start a process and wait for it to finish; stop it and fail after ``timeout``."""
        launched = self.start(name, argv, env)
        try:
            status = launched.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._stop(launched)
            raise RunFailed(
                f"{name} did not finish within {timeout:.0f} s:\n{launched.tail()}"
            ) from None
        if status != 0:
            raise RunFailed(f"{name} exited with status {status}:\n{launched.tail()}")
        return launched

    def stop_all(self) -> None:
        for launched in reversed(self.launched):
            self._stop(launched)

    @staticmethod
    def _stop(launched: Launched) -> None:
        popen = launched.popen
        if popen.poll() is not None:
            return
        try:
            os.kill(popen.pid, signal.SIGTERM)
            popen.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.kill(popen.pid, signal.SIGKILL)
            popen.wait(STOP_GRACE_S)
        except ProcessLookupError:
            popen.wait(STOP_GRACE_S)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()
