"""Who is subscribed to a publisher, and the messages waiting for a subscriber.

A ZeroMQ PUB socket silently drops a message whose topic nobody is subscribed to yet: a
client that subscribes and pushes at once may see its reply published before its
subscription arrived (the *slow-joiner* problem). Our publishers are XPUB sockets, which
tell us every subscription; a message for a topic nobody is subscribed to is *held* here
until a matching subscription arrives, or until it has waited ``hold`` seconds (then it is
dropped with a warning). Subscriptions are prefixes, as in ZeroMQ.

The publisher runs in verbose mode (``XPUB_VERBOSER``): every subscriber's subscribe and
unsubscribe arrives, so subscriptions are *counted*. That is what lets a publisher tell
whether every subscriber of a topic reads batches (see :meth:`Subscriptions.batchable`).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable

__all__ = ["Subscriptions", "BATCH_READER"]

#: A subscriber that reads batch frames (``pylm.parts.wire.BATCH``) for topic ``T`` also
#: subscribes to ``BATCH_READER + T``. No topic starts with it, so it never matches.
BATCH_READER = b"\x00B"

Frames = list[bytes]


class Subscriptions:
    def __init__(
        self,
        *,
        hold: float = 30.0,
        max_held: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hold = hold
        self.max_held = max_held
        self._clock = clock
        self.topics: Counter[bytes] = Counter()
        self._lengths: Counter[int] = Counter()
        self._batchable: dict[bytes, bool] = {}
        self._held: dict[bytes, deque[tuple[float, Frames]]] = {}
        self.held_count = 0

    # -- subscriptions ------------------------------------------------------------------
    def update(self, frame: bytes) -> list[Frames]:
        """Apply one XPUB subscription frame; return the held messages it releases."""
        if not frame or frame[0] not in (0, 1):
            return []
        topic = frame[1:]
        self._batchable.clear()
        if frame[0] == 1:
            if topic not in self.topics:
                self._lengths[len(topic)] += 1
            self.topics[topic] += 1
            return self._release(topic)
        if topic in self.topics:
            self.topics[topic] -= 1
            if self.topics[topic] <= 0:
                del self.topics[topic]
                self._lengths[len(topic)] -= 1
                if not self._lengths[len(topic)]:
                    del self._lengths[len(topic)]
        return []

    def batchable(self, topic: bytes) -> bool:
        """True when every subscriber that receives ``topic`` reads batch frames.

        That is: the only subscriptions matching ``topic`` are ``topic`` itself, and as
        many subscribers announced ``BATCH_READER + topic``.
        """
        known = self._batchable.get(topic)
        if known is None:
            readers = self.topics.get(BATCH_READER + topic, 0)
            known = readers > 0 and readers == self.topics.get(topic, 0) and not any(
                length < len(topic) and topic[:length] in self.topics for length in self._lengths
            )
            self._batchable[topic] = known
        return known

    def matches(self, topic: bytes) -> bool:
        if topic in self.topics:
            return True
        return any(
            length < len(topic) and topic[:length] in self.topics for length in self._lengths
        )

    # -- held messages ------------------------------------------------------------------
    def hold_message(self, topic: bytes, frames: Frames) -> Frames | None:
        """Keep a message until its topic has a subscriber; return one dropped to make room."""
        dropped = None
        if self.held_count >= self.max_held:
            dropped = self._drop_oldest()
        queue = self._held.setdefault(topic, deque())
        queue.append((self._clock() + self.hold, frames))
        self.held_count += 1
        return dropped

    def expire(self) -> dict[bytes, int]:
        """Drop held messages past their time; return how many were dropped per topic."""
        now = self._clock()
        dropped: dict[bytes, int] = {}
        for topic in list(self._held):
            queue = self._held[topic]
            while queue and queue[0][0] <= now:
                queue.popleft()
                self.held_count -= 1
                dropped[topic] = dropped.get(topic, 0) + 1
            if not queue:
                del self._held[topic]
        return dropped

    def _release(self, prefix: bytes) -> list[Frames]:
        released: list[Frames] = []
        for topic in [t for t in self._held if t.startswith(prefix)]:
            queue = self._held.pop(topic)
            self.held_count -= len(queue)
            released.extend(frames for _, frames in queue)
        return released

    def _drop_oldest(self) -> Frames:
        topic = min(self._held, key=lambda t: self._held[t][0][0])
        queue = self._held[topic]
        _, frames = queue.popleft()
        self.held_count -= 1
        if not queue:
            del self._held[topic]
        return frames
