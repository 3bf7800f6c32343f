"""The node's heartbeat: every ``interval`` seconds, the state of each instance.

A heartbeat is also sent soon (at most once a second) after an instance changes state,
so the status follows restarts closely. A 404 means the cluster was deleted: the agent is
told and stops every component. Other failures are reported once and retried at the
next beat; the registry marks the node lost if it hears nothing for long enough.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .client import ClusterGone, RegistryClient, RegistryError

__all__ = ["Heartbeat"]

log = logging.getLogger("pylm.runner")

_MIN_GAP = 1.0  # seconds between two heartbeats triggered by state changes


class Heartbeat:
    """Beats for one node until cancelled or until the cluster is gone."""

    def __init__(
        self,
        client: RegistryClient,
        node: str,
        interval: float,
        snapshot: Callable[[], list[dict[str, object]]],
        on_cluster_gone: Callable[[], None],
    ) -> None:
        self._client = client
        self._node = node
        self._interval = interval
        self._snapshot = snapshot
        self._on_cluster_gone = on_cluster_gone
        self._poke = asyncio.Event()
        self._failing = False
        self.beats = 0

    def poke(self) -> None:
        """An instance changed state: beat soon."""
        self._poke.set()

    async def run(self) -> None:
        """Beat now, then every interval (sooner after a poke)."""
        while True:
            started = time.monotonic()
            if not await self.beat():
                return
            self._poke.clear()
            # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives together with the poke, and the heartbeat would never end
            poked = asyncio.ensure_future(self._poke.wait())
            try:
                await asyncio.wait({poked}, timeout=self._interval)
            finally:
                poked.cancel()
            pause = _MIN_GAP - (time.monotonic() - started)
            if pause > 0:
                await asyncio.sleep(pause)

    async def beat(self) -> bool:
        """Send one heartbeat; False if the cluster is gone."""
        try:
            await self._client.heartbeat(self._node, self._snapshot())
        except ClusterGone:
            self._on_cluster_gone()
            return False
        except RegistryError as exc:
            if not self._failing:
                log.warning("heartbeat failed (%s); will keep trying", exc)
            self._failing = True
            return True
        if self._failing:
            log.warning("heartbeat reaches the registry again")
        self._failing = False
        self.beats += 1
        return True
