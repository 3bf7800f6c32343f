"""Services: parts that *bind* their outward socket (spec §4).

``PullService`` and ``RepService`` take messages in; ``PushService`` and ``PubService`` send
them out; ``WorkerPushService`` and ``WorkerPullService`` talk to workers (see
:mod:`pylm.parts.wire` for their protocol); ``CacheService`` answers the cache protocol.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import zmq

from pylm.cache import CacheRequestError, answer
from pylm.errors import MessageError, RoutingError
from pylm.message import PalmMessage, current_step, decode, describe, error_reply
from pylm.parts import wire
from pylm.parts.core import (
    Bypass,
    Handler,
    Inbound,
    Outbound,
    Part,
    default_hook,
    has_input,
    is_default,
)
from pylm.parts.dispatch import WorkerPool
from pylm.parts.sending import Backlog
from pylm.parts.subscriptions import Subscriptions

#: Most results published to one client in one frame.
BATCH_SIZE = 256

__all__ = [
    "PullService",
    "PushService",
    "PubService",
    "RepService",
    "WorkerPullService",
    "WorkerPushService",
    "CacheService",
    "report_error",
]


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


class _Checked(Inbound):
    """An inbound part that refuses messages meant for another server (when it knows its own)."""

    def __init__(self, name: str, listen_address: str, *, server: str = "", **kw: object):
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.server = server

    def receive(self, frames: list[bytes]) -> None:
        head = frames[-1][:2]
        if head == wire.CLIENT_BATCH:
            self._client_batch(frames)
            return
        if head == wire.BATCH:
            try:
                items = wire.unpack(frames[-1], 2)
            except wire.WireError as exc:
                self.logger.error("%s: dropped a batch: %s", self.name, exc)
                return
            for item in items:
                self.receive_one(item, frames)
            return
        self.receive_one(frames[-1], frames)

    def receive_one(self, data: bytes, frames: list[bytes]) -> None:
        if len(data) > self.max_message_size:
            self._too_large(data)
            return
        message = self.decode(data)
        if message is None:
            self.reject(frames)
            return
        if self.server and not message.error:
            try:
                server, _ = current_step(message)
            except RoutingError as exc:
                report_error(self, message, str(exc))
                self.reject(frames)
                return
            if server != self.server:
                report_error(self, message, f"{server!r} was called, but this is {self.server!r}")
                self.reject(frames)
                return
        self.forward(message, data)

    def _client_batch(self, frames: list[bytes]) -> None:
        """A batch from one client. When the messages go straight to workers, they are queued
        as they are (the workers check them); otherwise each one is decoded and checked."""
        try:
            ident, offset = wire.split_id(frames[-1])
            items = wire.unpack(frames[-1], offset)
        except wire.WireError as exc:
            self.logger.error("%s: dropped a batch: %s", self.name, exc)
            return
        assert self.router is not None
        target = self.router.parts[self.route]
        if not (isinstance(target, WorkerPushService) and is_default(self.scatter)):
            for item in items:
                self.receive_one(item, frames)
            return
        client = ident.decode(errors="replace")
        for item in items:
            if len(item) > self.max_message_size:
                self._too_large(item)
                continue
            target.submit(item, client, batched=True)
            self.count()

    def _too_large(self, data: bytes) -> None:
        reason = f"message of {len(data)} bytes is over the limit of {self.max_message_size}"
        try:
            message = decode(data)
        except MessageError:
            self.logger.error("%s: dropped a %s", self.name, reason)
            return
        report_error(self, message, reason)


class PullService(_Checked):
    """Binds a PULL socket; each message goes to ``route``."""

    describes = "pull_address"

    def __init__(self, name: str, listen_address: str, *, hwm: int = 100, **kw: object):
        # A client's batch holds up to 256 KiB: a short queue keeps memory bounded.
        super().__init__(name, listen_address, hwm=hwm, **kw)  # type: ignore[arg-type]

    def open(self, context: zmq.Context) -> None:
        self.server = self.server or own_name(self)
        self.socket = self.make_socket(context, zmq.PULL)
        self.bind(self.socket)


class RepService(_Checked):
    """Binds a REP socket; answers each request with what ``route`` returned (or empty bytes)."""

    def open(self, context: zmq.Context) -> None:
        self.server = self.server or own_name(self)
        self.socket = self.make_socket(context, zmq.REP)
        self.bind(self.socket)

    def forward(self, message: PalmMessage) -> None:
        assert self.router is not None
        reply = self.router.dispatch(self, message)
        self.reply(reply if self.block else None)
        self.count()

    def reject(self, frames: list[bytes]) -> None:
        self.reply(None)

    def reply(self, message: PalmMessage | None) -> None:
        assert self.socket is not None
        self.socket.send(message.SerializeToString() if message is not None else b"")


class PushService(Outbound):
    """Binds a PUSH socket and sends every message it gets, serialized."""

    kind = zmq.PUSH

    def open(self, context: zmq.Context) -> None:
        self.socket = self.make_socket(context, self.kind)
        self.bind(self.socket)
        self.backlog = Backlog(self)
        self.backlog.socket = self.socket

    def accepting(self) -> bool:
        return self.backlog.accepting()

    def pending(self) -> bool:
        return len(self.backlog) > 0

    def send(self, message: PalmMessage, raw: bytes | None = None) -> None:
        self.backlog.send([raw if raw is not None else message.SerializeToString()])
        self.count()


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
        if self.pipelined:
            message.stage += 1
            return self.server, message
        return message.client, message

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


class WorkerPushService(Outbound):
    """Binds a ROUTER socket and hands each message to a worker with free credit.

    Keeps the :class:`~pylm.parts.dispatch.WorkerPool`: which worker holds which message,
    heartbeats, redelivery when a worker dies. ``prefetch`` is how many messages a worker may
    hold (workers announce it), ``heartbeat`` the interval workers beat at (published in the
    cache), ``liveness`` how many missed beats make a worker dead, ``max_deaths`` how many
    workers a message may kill before it is reported as failed.
    """

    describes = "worker_push_address"

    def __init__(
        self,
        name: str,
        listen_address: str,
        *,
        heartbeat: float = 1.0,
        liveness: int = 3,
        max_deaths: int = 3,
        max_pending: int = 2000,
        **kw: object,
    ) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.heartbeat = heartbeat
        self.pool = WorkerPool(
            max_pending=max_pending, max_deaths=max_deaths, liveness=heartbeat * liveness
        )
        self.socket: zmq.Socket | None = None
        self._scheduled = False

    def open(self, context: zmq.Context) -> None:
        self.socket = self.make_socket(context, zmq.ROUTER)
        self.socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.socket.setsockopt(zmq.SNDHWM, 0)  # credit bounds what each worker holds
        self.bind(self.socket)
        self.cache["heartbeat_interval"] = repr(self.heartbeat).encode()

    def pollables(self) -> Iterable[tuple[zmq.Socket, Handler]]:
        assert self.socket is not None
        return [(self.socket, self._on_worker)]

    def accepting(self) -> bool:
        return self.pool.accepting()

    def send(self, message: PalmMessage, raw: bytes | None = None) -> None:
        data = raw if raw is not None else message.SerializeToString()
        self.submit(data, message.client, message.batched)

    def submit(self, data: bytes, client: str, batched: bool = False) -> None:
        """Queue a serialized message for the workers (results go to ``client``)."""
        self.pool.submit(data, client, batched)
        self.schedule()
        self.count()

    def schedule(self) -> None:
        if not self._scheduled and self.router is not None:
            self._scheduled = True
            self.router.soon(self.dispatch)

    def dispatch(self) -> None:
        self._scheduled = False
        assert self.socket is not None
        header = wire.JOB_HEADER.pack
        for ident, jobs in self.pool.assign():
            packed = wire.pack([header(job.seq) + job.data for job in jobs])
            try:
                self.socket.send_multipart([ident, wire.JOBS + packed], zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                self.logger.warning("%s: worker %r is gone (%s)", self.name, ident, exc)
                self.pool.bye(ident)
                self.schedule()

    def resync(self, ident: bytes) -> None:
        assert self.socket is not None
        with contextlib.suppress(zmq.ZMQError):
            self.socket.send_multipart([ident, wire.RESYNC], zmq.NOBLOCK)

    def _on_worker(self) -> None:
        assert self.socket is not None
        while has_input(self.socket):
            frames = self.socket.recv_multipart(zmq.NOBLOCK)
            if len(frames) == 2 and frames[1][:2] == wire.HELLO:
                try:
                    credit = int(frames[1][2:])
                except ValueError:
                    self.logger.error("%s: bad HELLO from %r", self.name, frames[0])
                    continue
                self.pool.hello(frames[0], credit)
                ident = frames[0].decode(errors="replace")
                self.logger.info("%s: worker %s ready", self.name, ident)
                self.schedule()
            else:
                self.logger.error("%s: dropped an unexpected frame from %r", self.name, frames[0])


class WorkerPullService(Inbound):
    """Binds a PULL socket for what workers send back: results, heartbeats and goodbyes.

    Works with the :class:`WorkerPushService` of the same component: results are matched to
    the jobs it handed out, duplicates dropped, and credit returned; workers that fall silent
    are given up and their messages redelivered. A plain PalmMessage is routed as is.
    """

    describes = "worker_pull_address"

    def __init__(self, name: str, listen_address: str, **kw: object) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.pusher: WorkerPushService | None = None

    def open(self, context: zmq.Context) -> None:
        self.socket = self.make_socket(context, zmq.PULL)
        self.bind(self.socket)
        assert self.router is not None
        pushers = [p for p in self.router.parts.values() if isinstance(p, WorkerPushService)]
        self.pusher = pushers[0] if pushers else None
        if self.pusher is not None:
            self.router.call_every(self.pusher.heartbeat / 2, self._check_workers)

    def receive(self, frames: list[bytes]) -> None:
        frame = frames[-1]
        if not frame.startswith(b"\x00"):
            super().receive(frames)
            return
        head = frame[:2]
        try:
            ident, body = wire.split_id(frame)
        except wire.WireError as exc:
            self.logger.error("%s: dropped a control frame: %s", self.name, exc)
            return
        pusher = self.pusher
        if head == wire.RESULTS:
            self._results(ident, frame, body)
        elif head == wire.HEARTBEAT:
            if pusher is not None and not pusher.pool.seen(ident):
                pusher.resync(ident)
        elif head == wire.BYE:
            if pusher is not None:
                pusher.pool.bye(ident)
                pusher.schedule()
                self.logger.info("%s: worker %s left", self.name, ident.decode(errors="replace"))
        else:
            self.logger.error("%s: dropped an unknown control frame %r", self.name, head[:16])

    def _results(self, ident: bytes, frame: bytes, body: int) -> None:
        pusher = self.pusher
        try:
            items = wire.unpack(frame, body)
        except wire.WireError as exc:
            self.logger.error("%s: dropped a result batch from %r: %s", self.name, ident, exc)
            return
        header = wire.RESULT_HEADER
        size = header.size
        target = self.router.parts[self.route] if self.router is not None else None
        fast = (
            pusher is not None and isinstance(target, PubService) and target.plain
            and is_default(self.scatter)
        )
        for item in items:
            if len(item) < size:
                self.logger.error("%s: dropped a result with a bad header", self.name)
                continue
            seq, kind, index = header.unpack_from(item)
            job = None
            if pusher is not None:
                if kind == wire.DONE:
                    pusher.pool.finished(ident, seq)
                    continue
                job = pusher.pool.result(ident, seq, index, kind == wire.FINAL)
                if job is None:
                    continue
            elif kind == wire.DONE:
                continue
            if fast and job is not None and job.client:
                target.publish_result(job.client, job.batched, item[size:])  # type: ignore[union-attr]
                self.count()
                continue
            message = self.decode(item[size:])
            if message is not None:
                self.forward(message)
        if pusher is not None:
            pusher.schedule()

    def _check_workers(self) -> None:
        assert self.pusher is not None and self.socket is not None
        if self.socket.poll(0):
            return  # read what is waiting first: a heartbeat may be in it
        dead, failed = self.pusher.pool.expire()
        for ident in dead:
            self.logger.warning(
                "%s: worker %s stopped answering; its messages go to other workers",
                self.name, ident.decode(errors="replace"),
            )
        for job in failed:
            message = self.decode(job.data)
            if message is not None:
                report_error(
                    self, message,
                    f"gave up: this message was running when {job.deaths} workers died",
                )
        if dead:
            self.pusher.schedule()


class CacheService(Bypass):
    """Binds a REP socket and answers the cache protocol (see :mod:`pylm.cache`)."""

    describes = "db_address"

    def __init__(self, name: str, listen_address: str, *, server: str = "", **kw: object):
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.server = server
        self.socket: zmq.Socket | None = None

    def open(self, context: zmq.Context) -> None:
        self.socket = self.make_socket(context, zmq.REP)
        self.bind(self.socket)

    def pollables(self) -> Iterable[tuple[zmq.Socket, Handler]]:
        assert self.socket is not None
        return [(self.socket, self._on_request)]

    def _on_request(self) -> None:
        assert self.socket is not None
        while has_input(self.socket):
            data = self.socket.recv(zmq.NOBLOCK)
            name = self.server or own_name(self)
            try:
                reply = answer(self.cache, data, name)
            except CacheRequestError as exc:
                self.logger.error("%s: %s", self.name, exc)
                reply = b""
            self.socket.send(reply)
