"""Supervision of one instance: start it, watch it, restart it, stop it.

Each command is split as a shell would split it (``shlex.split``) but run without a shell,
in its own session and process group, with ``PYTHONUNBUFFERED=1`` (and ``PYLM_NODE``,
``PYLM_SERVICE``, ``PYLM_INSTANCE``) in its environment, stdin from /dev/null, stdout and
stderr read by the event loop as they come (see ``output``). On Linux each component also
gets SIGTERM if the runner dies, so a runner killed with SIGKILL leaves no component behind.

Restarts follow the service's ``RestartPolicy`` with exponential backoff: the n-th quick
exit in a row waits ``initial * factor**(n-1)`` seconds (at most ``maximum``), spread by
±``jitter``. An instance that ran at least ``stable_after`` seconds starts the count anew.
After ``crashloop_after`` quick exits in a row the instance is in ``crashloop``: it is
still restarted, with the longest delays, and the status says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import random
import shlex
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .client import InstanceSpec
from .events import Event, EventKind, InstanceState, iso_time
from .output import LineSplitter, Stream

__all__ = ["BackoffPolicy", "Supervisor", "SupervisorHost", "describe_exit"]

log = logging.getLogger("pylm.runner")

DEFAULT_GRACE = 10.0
_PIPES_SETTLE = 1.0  # seconds to wait for the last output after a process exited
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class BackoffPolicy:
    """How long to wait before restarting an instance that exited."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.1
    stable_after: float = 10.0
    crashloop_after: int = 3

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < self.initial:
            raise ValueError("backoff needs 0 <= initial <= maximum")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("backoff jitter must be in [0, 1)")
        if self.crashloop_after < 1:
            raise ValueError("crashloop_after must be at least 1")

    def delay(self, quick_exits: int, rand: float) -> float:
        """The wait before the next start after ``quick_exits`` quick exits in a row.

        ``rand`` is a number in [0, 1) that spreads the delay by ±jitter.
        """
        base = min(self.maximum, self.initial * self.factor ** max(0, quick_exits - 1))
        return min(self.maximum, base * (1 - self.jitter + 2 * self.jitter * rand))


class SupervisorHost(Protocol):
    """What a supervisor reports to: the agent."""

    def event(self, event: Event) -> None:
        """An instance event happened."""

    def lines(self, instance: str, stream: str, when: float, texts: list[str]) -> None:
        """Lines were read from an instance."""

    def process_started(self, instance: str, pid: int) -> None:
        """A process group was started for ``instance``."""

    def process_ended(self, instance: str) -> None:
        """The process of ``instance`` ended."""


def describe_exit(returncode: int) -> str:
    """``exit status 3`` or ``killed by SIGKILL`` for a Popen-style return code."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"killed by {name}"


class _ComponentProtocol(asyncio.SubprocessProtocol):
    """Reads both pipes of one process as data arrives; notes exit and pipe closing."""

    def __init__(self, instance: str, host: SupervisorHost) -> None:
        self._instance = instance
        self._host = host
        self._splitters = {1: LineSplitter(), 2: LineSplitter()}
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        texts = self._splitters[fd].feed(data)
        if texts:
            self._deliver(fd, texts)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        splitter = self._splitters.get(fd)
        if splitter is not None:
            texts = splitter.flush()
            if texts:
                self._deliver(fd, texts)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self.process_exited()

    def _deliver(self, fd: int, texts: list[str]) -> None:
        stream = Stream.STDOUT if fd == 1 else Stream.STDERR
        try:
            self._host.lines(self._instance, stream, time.time(), texts)
        except Exception:  # a spool failure must not kill the pipe reader
            log.exception("%s: could not keep %d lines", self._instance, len(texts))


class Supervisor:
    """Runs one instance under its restart policy until told to stop."""

    def __init__(
        self,
        spec: InstanceSpec,
        host: SupervisorHost,
        *,
        node: str,
        backoff: BackoffPolicy | None = None,
        grace: float = DEFAULT_GRACE,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.spec = spec
        self.state = InstanceState.STARTING
        self.pid: int | None = None
        self.restarts = 0
        self.last_exit: int | None = None
        self.started_at: float | None = None
        self._host = host
        self._node = node
        self._backoff = backoff or BackoffPolicy()
        self._grace = grace
        self._rand = rand
        self._stopping = asyncio.Event()
        self._kill = asyncio.Event()

    def snapshot(self) -> dict[str, object]:
        """The instance in the heartbeat's wire form."""
        return {
            "instance": self.spec.instance,
            "state": self.state.value,
            "pid": self.pid,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "started_at": iso_time(self.started_at) if self.started_at else None,
        }

    def stop(self, kill_now: bool = False) -> None:
        """Ask ``run`` to stop the instance (SIGTERM, grace period, SIGKILL) and return."""
        if kill_now:
            self._kill.set()
        self._stopping.set()

    async def run(self) -> InstanceState:
        """Start the instance and supervise it; returns its final state."""
        try:
            argv = shlex.split(self.spec.command)
        except ValueError as exc:
            return self._fail(f"cannot split the command {self.spec.command!r}: {exc}")
        if not argv:
            return self._fail("the command is empty")
        quick_exits = 0
        in_crashloop = False
        while not self._stopping.is_set():
            self.state = InstanceState.STARTING
            try:
                transport, protocol = await self._spawn(argv)
            except FileNotFoundError:
                return self._fail(f"cannot start: command not found: {argv[0]!r}")
            except PermissionError:
                return self._fail(f"cannot start: permission denied: {argv[0]!r}")
            except OSError as exc:
                return self._fail(f"cannot start {argv[0]!r}: {exc.strerror or exc}")
            try:
                returncode = await self._watch(transport, protocol)
            finally:
                transport.close()
                self._host.process_ended(self.spec.instance)
            self.last_exit = returncode
            if self._stopping.is_set():
                break
            uptime = time.time() - (self.started_at or time.time())
            policy = self.spec.restart
            if not policy.restarts_after(returncode):
                self.state = InstanceState.EXITED if returncode == 0 else InstanceState.FAILED
                return self.state
            quick_exits = quick_exits + 1 if uptime < self._backoff.stable_after else 0
            delay = self._backoff.delay(quick_exits, self._rand())
            if quick_exits >= self._backoff.crashloop_after:
                self.state = InstanceState.CRASHLOOP
                if not in_crashloop:
                    in_crashloop = True
                    self._emit(
                        EventKind.CRASHLOOP,
                        detail=f"{quick_exits} quick exits in a row; "
                        f"restarting with delays up to {self._backoff.maximum:g} s",
                    )
            else:
                in_crashloop = False
                self.state = InstanceState.BACKOFF
            self._emit(
                EventKind.RESTART,
                detail=f"restart {self.restarts + 1} in {delay:.2f} s "
                f"after {describe_exit(returncode)}",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                break
            self.restarts += 1
        self.state = InstanceState.STOPPED
        self.pid = None
        self._emit(EventKind.STOP, detail="stopped by the runner")
        return self.state

    async def _spawn(
        self, argv: list[str]
    ) -> tuple[asyncio.SubprocessTransport, _ComponentProtocol]:
        loop = asyncio.get_running_loop()
        env = dict(os.environ)
        env.update(
            PYTHONUNBUFFERED="1",
            PYLM_NODE=self._node,
            PYLM_SERVICE=self.spec.service,
            PYLM_INSTANCE=self.spec.instance,
        )
        transport, protocol = await loop.subprocess_exec(
            lambda: _ComponentProtocol(self.spec.instance, self._host),
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),
        )
        self.pid = transport.get_pid()
        self.started_at = time.time()
        self.state = InstanceState.RUNNING
        self._host.process_started(self.spec.instance, self.pid)
        self._emit(EventKind.START, pid=self.pid, detail=self.spec.command)
        return transport, protocol

    async def _watch(
        self, transport: asyncio.SubprocessTransport, protocol: _ComponentProtocol
    ) -> int:
        pid = transport.get_pid()
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({protocol.exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not protocol.exited.done():
            await self._terminate(pid, protocol)
        returncode = await self._returncode(transport)
        _signal_group(pid, signal.SIGTERM)  # whatever the leader left behind in its group
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(protocol.closed), _PIPES_SETTLE)
        status = returncode if returncode >= 0 else None
        signum = -returncode if returncode < 0 else None
        self._emit(EventKind.EXIT, pid=pid, status=status, signal=signum,
                   detail=describe_exit(returncode))
        self.pid = None
        return returncode

    async def _terminate(self, pid: int, protocol: _ComponentProtocol) -> None:
        if not self._kill.is_set():
            _signal_group(pid, signal.SIGTERM)
            kill = asyncio.ensure_future(self._kill.wait())  # a second signal ends the grace
            try:
                await asyncio.wait({protocol.exited, kill}, timeout=self._grace,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                kill.cancel()
            if protocol.exited.done():
                return
            if not self._kill.is_set():
                log.warning("%s: still running %g s after SIGTERM; sending SIGKILL",
                            self.spec.instance, self._grace)
        _signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(protocol.exited), self._grace)

    @staticmethod
    async def _returncode(transport: asyncio.SubprocessTransport) -> int:
        for _ in range(200):  # the exit is known; the child watcher may lag a moment
            code = transport.get_returncode()
            if code is not None:
                return code
            await asyncio.sleep(0.01)
        return -int(signal.SIGKILL)

    def _fail(self, detail: str) -> InstanceState:
        self.state = InstanceState.FAILED
        self._emit(EventKind.ERROR, detail=detail)
        return self.state

    def _emit(self, kind: EventKind, **fields: object) -> None:
        event = Event(kind=kind, instance=self.spec.instance, time=time.time(), **fields)
        self._host.event(event)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to send SIGTERM to the child when the runner dies."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    option, signum = ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(int(signal.SIGTERM))

    def hook() -> None:
        prctl(option, signum)
        if os.getppid() != parent:  # the runner died before the hook ran
            os.kill(os.getpid(), signal.SIGTERM)

    return hook
