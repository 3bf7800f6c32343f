"""The agent: joins the cluster, runs its instances, ships their output, and stops.

Wiring, in the order things happen:
1. open the spool (one runner per spool directory) and end any component a killed
   predecessor left behind (``reaper``);
2. start the shipper at once, so lines a previous run did not deliver go out first;
3. join the cluster (retrying while the registry cannot be reached, up to
   ``join_timeout``); no instance for this node: say so, deliver leftovers, exit 0;
4. one ``Supervisor`` per instance, and the ``Heartbeat``;
5. run until SIGTERM/SIGINT, until the cluster is deleted (heartbeat or shipper got a
   404), or until every instance has ended for good;
6. stop every instance (SIGTERM to its process group, grace period, SIGKILL), send a last
   heartbeat, deliver what the spool holds (at most ``flush_timeout`` seconds; the rest
   waits in the spool for the next runner) and exit.

Exit status: 0 after a stop or a deleted cluster, or when every instance ended well;
1 when every instance ended and one of them failed; 2 when the runner cannot work at all
(refused by the registry, spool in use); see ``cli``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .client import (
    ClusterGone,
    JoinAnswer,
    RegistryClient,
    RegistryError,
    RegistryRefused,
    RegistryUnreachable,
)
from .events import Event, EventKind, InstanceState
from .heartbeat import Heartbeat
from .node import NodeDescription
from .output import Echo, Stream
from .reaper import process_start_ticks, reap_sessions
from .shipper import Shipper, ShipperSettings
from .spool import DEFAULT_SPOOL_MAX_BYTES, Spool
from .supervisor import DEFAULT_GRACE, BackoffPolicy, Supervisor

__all__ = ["Agent", "AgentSettings", "RunnerFailure", "default_spool_dir"]

log = logging.getLogger("pylm.runner")

DEFAULT_FLUSH_TIMEOUT = 10.0
DEFAULT_JOIN_TIMEOUT = 60.0
EXIT_OK, EXIT_COMPONENT_FAILED, EXIT_UNUSABLE = 0, 1, 2


class RunnerFailure(Exception):
    """The runner cannot do its job at all; the message says why (exit status 2)."""


@dataclass(frozen=True)
class AgentSettings:
    """Everything the agent needs, parsed once by ``cli``."""

    registry: str
    cluster: str
    token: str
    node: NodeDescription
    spool_dir: Path
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    grace: float = DEFAULT_GRACE
    echo: bool = True
    flush_timeout: float = DEFAULT_FLUSH_TIMEOUT
    join_timeout: float = DEFAULT_JOIN_TIMEOUT
    shipper: ShipperSettings = field(default_factory=ShipperSettings)


def default_spool_dir(registry: str, cluster: str) -> Path:
    """``$XDG_STATE_HOME/pylm-runner/<digest of registry and cluster>``."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    digest = hashlib.sha256(f"{registry.rstrip('/')}\n{cluster}".encode()).hexdigest()[:16]
    return Path(state) / "pylm-runner" / digest


class Agent:
    """One runner process: ``await Agent(settings).run()`` returns the exit status."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self._spool: Spool | None = None
        stdout = getattr(sys.stdout, "buffer", None)  # None when started with stdout closed
        self._echo = Echo(stdout if settings.echo else None)
        self._node = ""
        self._services: dict[str, str] = {}
        self._prefixes: dict[tuple[str, str], str] = {}
        self._supervisors: list[Supervisor] = []
        self._shipper: Shipper | None = None
        self._heartbeat: Heartbeat | None = None
        self._stop = asyncio.Event()
        self._signals = 0
        self._cluster_gone = False

    # -- what supervisors report (SupervisorHost) ----------------------------------------

    def lines(self, instance: str, stream: str, when: float, texts: list[str]) -> None:
        """Spool the lines first, then echo them and wake the shipper."""
        assert self._spool is not None and self._shipper is not None
        self._spool.append(self._node, self._services[instance], instance, stream, when, texts)
        prefix = self._prefixes.get((instance, stream))
        if prefix is None:
            tag = instance if stream == Stream.STDOUT else f"{instance}:{stream[3:]}"
            prefix = self._prefixes[(instance, stream)] = f"[{tag}] "
        self._echo.write(prefix, texts)
        self._shipper.notify()

    def event(self, event: Event) -> None:
        """Say it on stderr, spool it for the registry, and beat soon."""
        assert self._spool is not None and self._shipper is not None
        level = logging.ERROR if event.kind is EventKind.ERROR else logging.INFO
        what = event.detail if event.kind is not EventKind.START else f"pid {event.pid}"
        log.log(level, "%s: %s: %s", event.instance, event.kind.value, what)
        self._spool.append_event(event.to_json(self._node))
        self._shipper.notify()
        if self._heartbeat is not None:
            self._heartbeat.poke()

    def process_started(self, instance: str, pid: int) -> None:
        """Record the new process group so that a later runner can end it if need be."""
        assert self._spool is not None
        self._spool.record_process(instance, pid, process_start_ticks(pid) or 0)

    def process_ended(self, instance: str) -> None:
        """The process group of ``instance`` is over."""
        assert self._spool is not None
        self._spool.forget_process(instance)

    # -- the run -------------------------------------------------------------------------

    async def run(self) -> int:
        """Do the whole job; returns the exit status."""
        settings = self.settings
        self._spool = spool = Spool(settings.spool_dir, settings.spool_max_bytes)
        client = RegistryClient(settings.registry, settings.cluster, settings.token)
        shipper_task: asyncio.Task[None] | None = None
        try:
            leftovers = reap_sessions(spool.recorded_processes())
            for instance in leftovers:
                log.warning("%s: ended processes a previous runner left behind", instance)
                spool.forget_process(instance)
            self._node = self._node_name(spool)
            self._shipper = Shipper(client, spool, settings.shipper, self._on_cluster_gone)
            shipper_task = asyncio.create_task(self._shipper.run(), name="shipper")
            if spool.pending_lines:
                log.info("%d lines from a previous run are waiting in the spool; sending them",
                         spool.pending_lines)
            self._install_signal_handlers()
            answer = await self._join(client)
            if answer is None:  # stopped while waiting for the registry
                return EXIT_OK
            status = await self._supervise(client, answer)
            await self._flush(shipper_task)
            return status
        finally:
            if shipper_task is not None and not shipper_task.done():
                shipper_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await shipper_task
            self._remove_signal_handlers()
            await client.aclose()
            self._echo.close()
            spool.close()

    def _node_name(self, spool: Spool) -> str:
        name = self.settings.node.name or spool.get("node")
        if not name:
            name = f"{socket.gethostname()}-{spool.source[:8]}"
        spool.set("node", name)
        return name

    async def _join(self, client: RegistryClient) -> JoinAnswer | None:
        node = self.settings.node.named(self._node)
        deadline = time.monotonic() + self.settings.join_timeout
        delay = 0.25
        warned = False
        while not self._stop.is_set():
            try:
                return await client.join(node)
            except RegistryUnreachable as exc:
                if time.monotonic() >= deadline:
                    raise RunnerFailure(
                        f"registry {self.settings.registry} unreachable for "
                        f"{self.settings.join_timeout:g} s ({exc})"
                    ) from None
                if not warned:
                    log.warning("registry %s unreachable (%s); retrying", self.settings.registry,
                                exc)
                    warned = True
            except ClusterGone as exc:
                raise RunnerFailure(
                    f"cluster {self.settings.cluster!r} not found in the registry ({exc.reason})"
                ) from None
            except RegistryRefused as exc:
                raise RunnerFailure(f"the registry refused node {self._node!r}: {exc}") from None
            except RegistryError as exc:
                raise RunnerFailure(str(exc)) from None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            delay = min(5.0, delay * 2)
        return None

    async def _supervise(self, client: RegistryClient, answer: JoinAnswer) -> int:
        if answer.node and answer.node != self._node:
            self._node = answer.node
        if not answer.instances:
            log.warning("the registry has no command for node %r in this cluster: "
                        "nothing to run", self._node)
            return EXIT_OK
        log.info("node %r runs %s", self._node,
                 ", ".join(spec.instance for spec in answer.instances))
        self._services = {spec.instance: spec.service for spec in answer.instances}
        self._supervisors = [
            Supervisor(spec, self, node=self._node, backoff=self.settings.backoff,
                       grace=self.settings.grace)
            for spec in answer.instances
        ]
        self._heartbeat = Heartbeat(
            client, self._node, answer.heartbeat_interval,
            lambda: [sup.snapshot() for sup in self._supervisors], self._on_cluster_gone,
        )
        runs = [asyncio.create_task(sup.run(), name=sup.spec.instance)
                for sup in self._supervisors]
        beating = asyncio.create_task(self._heartbeat.run(), name="heartbeat")
        all_ended = asyncio.ensure_future(asyncio.gather(*runs))
        stopped = asyncio.create_task(self._stop.wait())
        await asyncio.wait({all_ended, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not all_ended.done():
            log.info("stopping %d instances", len(self._supervisors))
            for sup in self._supervisors:
                sup.stop(kill_now=self._signals > 1)
        try:
            finals = await all_ended
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        if not self._cluster_gone:
            await self._heartbeat.beat()
        if self._stop.is_set() or self._cluster_gone:
            return EXIT_OK
        failed = [sup.spec.instance for sup, state in zip(self._supervisors, finals, strict=True)
                  if state is InstanceState.FAILED]
        if failed:
            log.error("every instance has ended; failed: %s", ", ".join(failed))
            return EXIT_COMPONENT_FAILED
        log.info("every instance has ended")
        return EXIT_OK

    async def _flush(self, shipper_task: asyncio.Task[None]) -> None:
        assert self._shipper is not None and self._spool is not None
        if self._cluster_gone:
            return
        self._shipper.close()
        timeout = self.settings.flush_timeout if self._signals < 2 else 1.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(shipper_task), timeout)
        if self._spool.pending_lines:
            log.warning("%d lines could not be delivered yet; they stay in %s for the next "
                        "runner started with this spool", self._spool.pending_lines,
                        self._spool.directory)

    # -- stopping ------------------------------------------------------------------------

    def _on_cluster_gone(self) -> None:
        """The heartbeat or the shipper got a 404: the cluster was deleted."""
        if not self._cluster_gone:
            log.warning("the registry says the cluster no longer exists: stopping everything")
        self._cluster_gone = True
        self._stop.set()

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals == 1:
            log.warning("%s: stopping every component (again to kill them at once)", name)
        else:
            log.warning("%s again: killing every component now", name)
            for sup in self._supervisors:
                sup.stop(kill_now=True)
        self._stop.set()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
