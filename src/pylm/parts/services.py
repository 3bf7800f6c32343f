"""Services: parts that *bind* their outward socket (spec §4).

``PullService`` and ``RepService`` take messages in; ``PushService`` and ``PubService``
(:mod:`pylm.parts.publisher`) send them out; ``WorkerPushService`` and
``WorkerPullService`` (:mod:`pylm.parts.workers`) talk to workers; ``CacheService``
answers the cache protocol. All of them are importable from here, as in the original.
"""

from __future__ import annotations

from collections.abc import Iterable

import zmq

from pylm.cache import CacheRequestError, answer
from pylm.errors import MessageError, RoutingError
from pylm.message import PalmMessage, current_step, decode
from pylm.parts import wire
from pylm.parts.core import Bypass, Handler, Inbound, Outbound, has_input, is_default
from pylm.parts.publisher import PubService, own_name, report_error
from pylm.parts.sending import Backlog
from pylm.parts.workers import WorkerPullService, WorkerPushService

__all__ = [
    "PullService",
    "PushService",
    "PubService",
    "RepService",
    "WorkerPullService",
    "WorkerPushService",
    "CacheService",
    "report_error",
    "own_name",
]


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
    #: Connect to ``listen_address`` instead of binding it (PushConnection).
    connects = False

    def open(self, context: zmq.Context) -> None:
        self.socket = self.make_socket(context, self.kind)
        if self.connects:
            self.connect(self.socket)
        else:
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
