"""Shipping the spool to the registry: in order, in batches, until acknowledged.

One task sends the oldest unacknowledged lines (and, before them, any pending events) in
batches of at most ``batch_lines`` lines and about ``batch_bytes`` bytes. A batch is sent
when it is full, or ``linger`` seconds after the first line of a quiet period arrived. A
batch leaves the spool only after the registry answered 200; until then it is sent again
(the registry stores each ``(source, instance, seq)`` once, so a repeat costs nothing).
While the registry cannot be reached the task waits ``retry_initial`` seconds, doubling up
to ``retry_max``, and says so once (not at every try). Since one task sends one batch at a
time, oldest first, lines arrive in the order they were read.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .client import ClusterGone, RegistryClient, RegistryRefused, RegistryUnreachable
from .spool import Spool

__all__ = ["Shipper", "ShipperSettings"]

log = logging.getLogger("pylm.runner")

_WARN_EVERY = 30.0  # seconds between two reminders that the registry is still away


@dataclass(frozen=True)
class ShipperSettings:
    """Batching and retry settings of the shipper."""

    batch_lines: int = 5000
    batch_bytes: int = 2 * 1024 * 1024
    linger: float = 0.2
    retry_initial: float = 0.25
    retry_max: float = 5.0

    def __post_init__(self) -> None:
        if self.batch_lines < 1 or self.batch_bytes < 1024:
            raise ValueError("batches need at least 1 line and 1 KiB")
        if self.linger < 0 or self.retry_initial <= 0 or self.retry_max < self.retry_initial:
            raise ValueError("shipper delays must be positive, retry_initial <= retry_max")


class Shipper:
    """Sends what the spool holds; ``run`` until ``close`` and the spool is empty."""

    def __init__(
        self,
        client: RegistryClient,
        spool: Spool,
        settings: ShipperSettings | None = None,
        on_cluster_gone: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self._spool = spool
        self._settings = settings or ShipperSettings()
        self._batch_lines = self._settings.batch_lines
        self._on_cluster_gone = on_cluster_gone
        self._wake = asyncio.Event()
        self._closing = False
        self._gone = False
        self.acknowledged = 0  # lines the registry confirmed during this run
        self.duplicates = 0  # of which it already had

    def notify(self) -> None:
        """New lines or events are in the spool."""
        self._wake.set()

    def close(self) -> None:
        """Finish: ``run`` returns once the spool is empty (or the caller gives up)."""
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        """Ship until closed and drained (or until the cluster is gone)."""
        retry = self._settings.retry_initial
        away_since: float | None = None
        last_warning = last_refusal = -_WARN_EVERY
        while not self._gone:
            kept = self._spool.pending_lines
            try:
                sent = await self._ship_once()
            except RegistryUnreachable as exc:
                now = time.monotonic()
                if away_since is None:
                    away_since = now
                if now - last_warning >= _WARN_EVERY:
                    last_warning = now
                    log.warning(
                        "registry unreachable (%s); %d lines kept in the spool, retrying",
                        exc, self._spool.pending_lines,
                    )
                await asyncio.sleep(retry * (0.8 + 0.4 * random.random()))
                retry = min(self._settings.retry_max, retry * 2)
                continue
            except ClusterGone:
                self._gone = True
                if self._on_cluster_gone is not None:
                    self._on_cluster_gone()
                return
            except RegistryRefused as exc:
                if exc.status == 413 and self._batch_lines > 1:
                    self._batch_lines = max(1, self._batch_lines // 2)
                    continue
                now = time.monotonic()
                if now - last_refusal >= _WARN_EVERY:
                    last_refusal = now
                    log.error("registry refused log lines (%s); they stay in the spool, "
                              "retrying every %g s", exc, self._settings.retry_max)
                await asyncio.sleep(self._settings.retry_max)
                continue
            retry = self._settings.retry_initial
            if away_since is not None:
                log.warning(
                    "registry reachable again after %.1f s; delivering the %d lines kept",
                    time.monotonic() - away_since, kept,
                )
                away_since, last_warning = None, -_WARN_EVERY
            if sent:
                continue
            if self._closing:
                return
            self._wake.clear()
            await self._wake.wait()
            if not self._closing and self._spool.pending_lines < self._batch_lines:
                await asyncio.sleep(self._settings.linger)

    async def _ship_once(self) -> bool:
        """Send pending events, then one batch of lines; False if there was nothing."""
        sent = False
        events = self._spool.next_events()
        if events is not None:
            bodies, last_id = events
            await self._client.post_events(bodies)
            self._spool.acknowledge_events(last_id)
            sent = True
        batch = self._spool.next_batch(self._batch_lines, self._settings.batch_bytes)
        if batch is None:
            return sent
        answer = await self._client.post_logs(self._spool.source, batch.fragments)
        self._spool.acknowledge(batch)
        self.acknowledged += batch.count
        duplicates = answer.get("duplicates")
        if isinstance(duplicates, int):
            self.duplicates += duplicates
        return True
