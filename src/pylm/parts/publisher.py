"""``PubService``: publishes results to clients and downstream steps (spec §2, §4).

An XPUB socket, so the publisher sees every subscription: a message for a topic nobody is
subscribed to yet is held until a subscriber arrives (no slow-joiner losses, see
:mod:`pylm.parts.subscriptions`), and a full subscriber pushes back (XPUB_NODROP) instead
of losing messages. Results for clients and steps that read batches travel in batches
(:mod:`pylm.parts.wire`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import zmq

from pylm.message import PalmMessage, describe, error_reply
from pylm.parts import wire
from pylm.parts.core import Handler, Outbound, Part, default_hook, has_input, is_default
from pylm.parts.sending import Backlog
from pylm.parts.subscriptions import Subscriptions

__all__ = [
    "PubService", "report_error", "own_name", "batch_frames", "default_route", "BATCH_SIZE",
]

#: Most results published to one client in one frame.
BATCH_SIZE = 256


def default_route(message: PalmMessage, server: str, pipelined: bool) -> tuple[str, PalmMessage]:
    """The default topic of an outgoing message: its client, or, for a server in a pipeline,
    the server's own name with the stage moved one step on."""
    if pipelined:
        message.stage += 1
        return server, message
    return message.client, message


def batch_frames(topic: bytes, batch: list[bytes]) -> list[bytes]:
    """The frames that publish ``batch`` to a client that reads batches."""
    if len(batch) == 1:
        return [topic, batch[0]]
    return [topic, wire.BATCH + wire.pack(batch)]


def own_name(part: Part) -> str:
    """The name of the server a part belongs to, as its cache says (empty when unset)."""
    return (part.cache.get("name") or b"").decode(errors="replace")


def report_error(part: Part, message: PalmMessage, reason: str) -> None:
    """Log a failed message and tell its client, through the component's publisher."""
    part.logger.error("%s: %s (%s)", part.name, reason, describe(message))
    router = part.router
    if router is None or not message.client:
        return
    for candidate in router.parts.values():
        if isinstance(candidate, PubService):
            candidate.publish_message(error_reply(message, reason), gather=False)
            return


class PubService(Outbound):
    """Binds an XPUB socket and publishes each message as ``[topic, message]``.

    ``gather`` (generator, one message in, any number out) and ``handle_stream`` (chooses the
    topic) are the hooks a Master overrides. By default the topic is the client id, or, when
    ``pipelined``, the server's name with the stage moved one step on. A message whose topic
    has no subscriber yet is held until one subscribes (see :mod:`pylm.parts.subscriptions`).
    """

    describes = "pub_address"

    def __init__(
        self,
        name: str,
        listen_address: str,
        *,
        pipelined: bool = False,
        server: str = "",
        hold: float = 30.0,
        **kw: object,
    ) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.pipelined = pipelined
        self.server = server
        self.subscriptions = Subscriptions(hold=hold)
        self.socket: zmq.Socket | None = None
        self._batches: dict[bytes, list[bytes]] = {}

    @default_hook
    def gather(self, message: PalmMessage) -> Iterator[PalmMessage]:
        yield message

    @default_hook
    def handle_stream(self, message: PalmMessage) -> tuple[str, PalmMessage]:
        return default_route(message, self.server, self.pipelined)

    def open(self, context: zmq.Context) -> None:
        self.server = self.server or own_name(self)
        self.socket = self.make_socket(context, zmq.XPUB)
        self.socket.setsockopt(zmq.XPUB_NODROP, 1)
        self.socket.setsockopt(zmq.XPUB_VERBOSER, 1)  # count subscribers (subscriptions.py)
        self.bind(self.socket)
        self.backlog = Backlog(self)
        self.backlog.socket = self.socket
        assert self.router is not None
        self.router.call_every(1.0, self._expire)

    def pollables(self) -> Iterable[tuple[zmq.Socket, Handler]]:
        assert self.socket is not None
        return [(self.socket, self._on_subscription)]

    def accepting(self) -> bool:
        return self.backlog.accepting()

    def pending(self) -> bool:
        return bool(self.subscriptions.held_count or len(self.backlog) or self._batches)

    def send(self, message: PalmMessage, raw: bytes | None = None) -> None:
        self.publish_message(message, gather=not message.error)
        self.count()

    @property
    def plain(self) -> bool:
        """True when every message goes to its client unchanged (default hooks, no pipeline)."""
        return is_default(self.gather) and is_default(self.handle_stream) and not self.pipelined

    def publish_result(self, client: str, batched: bool, data: bytes) -> None:
        """Publish an already serialized result to its client (the fast path of :attr:`plain`)."""
        if batched:
            self._add_to_batch(client.encode(), data)
        else:
            self.publish(client.encode(), data)
        self.count()

    def publish_message(self, message: PalmMessage, gather: bool = True) -> None:
        if not gather or is_default(self.gather):
            outgoing: Iterable[PalmMessage] = (message,)
        else:
            outgoing = self.gather(message)
        for out in outgoing:
            topic, out = self.handle_stream(out)
            if out.batched and topic == out.client:
                self._add_to_batch(topic.encode(), out.SerializeToString())
                continue
            key = topic.encode()
            if self.subscriptions.batchable(key):
                self._add_to_batch(key, out.SerializeToString())
            else:
                self.publish(key, out.SerializeToString())

    def _add_to_batch(self, topic: bytes, data: bytes) -> None:
        batch = self._batches.get(topic)
        if batch is None:
            batch = self._batches[topic] = []
            if len(self._batches) == 1:
                self.router.soon(self._flush_batches)  # type: ignore[union-attr]
        batch.append(data)
        if len(batch) >= BATCH_SIZE:
            del self._batches[topic]
            self._publish_frames(batch_frames(topic, batch))

    def _flush_batches(self) -> None:
        batches, self._batches = self._batches, {}
        for topic, batch in batches.items():
            self._publish_frames(batch_frames(topic, batch))

    def publish(self, topic: bytes, data: bytes) -> None:
        if topic in self._batches:  # keep the order: what waits in a batch goes first
            self._publish_frames(batch_frames(topic, self._batches.pop(topic)))
        self._publish_frames([topic, data])

    def _publish_frames(self, frames: list[bytes]) -> None:
        topic = frames[0]
        if self.subscriptions.matches(topic):
            self.backlog.send(frames)
            return
        dropped = self.subscriptions.hold_message(topic, frames)
        if dropped is not None:
            self.logger.warning(
                "%s: too many messages wait for subscribers; dropped one for %r",
                self.name, dropped[0],
            )

    def _on_subscription(self) -> None:
        assert self.socket is not None
        while has_input(self.socket):
            frame = self.socket.recv(zmq.NOBLOCK)
            for frames in self.subscriptions.update(frame):
                self.backlog.send(frames)

    def _expire(self) -> None:
        for topic, count in self.subscriptions.expire().items():
            self.logger.warning(
                "%s: dropped %d message(s) for %r: no subscriber within %.0f s",
                self.name, count, topic.decode(errors="replace"), self.subscriptions.hold,
            )
