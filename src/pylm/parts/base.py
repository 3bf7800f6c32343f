"""The base classes of every part, and the constants they share.

See :mod:`pylm.parts.core` for how a router runs parts. A part has a name, an address, a
logger, the component's cache and, once added, its router. Inbound parts receive from the
outside and forward to the outbound part named by ``route``; outbound parts send outside;
bypass parts serve their socket on their own.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, ClassVar

import zmq

from pylm.cache import Cache
from pylm.errors import ConfigurationError, MessageError
from pylm.log import component_logger
from pylm.message import PalmMessage, decode

if TYPE_CHECKING:
    from pylm.parts.core import Router

__all__ = [
    "Part", "Inbound", "Outbound", "Bypass", "Handler", "zmq_context", "has_input",
    "default_hook", "is_default", "MAX_MESSAGE_SIZE", "HARD_MESSAGE_SIZE", "DRAIN_BATCH",
    "LINGER", "DEFAULT_HWM",
]

#: The process-wide ZeroMQ context (the name the original exported).
zmq_context = zmq.Context.instance()

#: Frames larger than this are refused (logged and answered with an error where possible).
MAX_MESSAGE_SIZE = 32 * 1024 * 1024
#: Hard limit given to ZeroMQ: a peer sending more than this is disconnected by libzmq itself.
HARD_MESSAGE_SIZE = 4 * MAX_MESSAGE_SIZE
#: How many messages a part takes from its socket before giving the others a turn.
DRAIN_BATCH = 512
#: Seconds a stopping component waits to deliver what it still holds.
LINGER = 2.0
#: Default high-water mark (messages) of the sockets facing the outside.
DEFAULT_HWM = 1000

Handler = Callable[[], None]

_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)


def has_input(sock: zmq.Socket) -> bool:
    """True when a receive would not block. Much cheaper than a receive that raises Again."""
    return bool(sock.getsockopt(_EVENTS) & _POLLIN)


def default_hook(function: Callable) -> Callable:
    """Mark a hook's default implementation, so the router can skip calling it."""
    function.__pylm_default__ = True  # type: ignore[attr-defined]
    return function


def is_default(hook: object) -> bool:
    """True when ``hook`` (a bound method) is a default marked by :func:`default_hook`."""
    return getattr(hook, "__pylm_default__", False)


class Part:
    """What every part shares: a name, an address, a logger, the cache and a router."""

    direction: ClassVar[str] = ""
    #: The self-description cache key holding this part's address (services only).
    describes: ClassVar[str] = ""

    def __init__(
        self,
        name: str,
        listen_address: str,
        *,
        logger: logging.Logger | None = None,
        cache: MutableMapping[str, bytes] | None = None,
        messages: int = sys.maxsize,
        route: str = "",
        log: str = "",
        hwm: int = DEFAULT_HWM,
        max_message_size: int = MAX_MESSAGE_SIZE,
        **unused: object,
    ) -> None:
        self.name = name
        self.listen_address = listen_address
        self.logger = logger or component_logger(name)
        self.cache = cache if cache is not None else Cache()
        self.messages = messages
        self.route = route
        self.log = log
        self.hwm = hwm
        self.max_message_size = max_message_size
        self.router: Router | None = None
        self.handled = 0
        self._sockets: list[zmq.Socket] = []

    # -- life cycle -------------------------------------------------------------------
    def open(self, context: zmq.Context) -> None:
        """Create, bind or connect the part's sockets. Called by the router before it runs."""

    def pollables(self) -> Iterable[tuple[zmq.Socket | int, Handler]]:
        """Sockets (or file descriptors) the router must always watch, with their handlers."""
        return ()

    def pending(self) -> bool:
        """True while the part still has messages to deliver (the router lingers for them)."""
        return False

    def close(self) -> None:
        for sock in self._sockets:
            sock.close(linger=200)
        self._sockets.clear()

    def make_socket(self, context: zmq.Context, kind: int) -> zmq.Socket:
        sock = context.socket(kind)
        sock.setsockopt(zmq.MAXMSGSIZE, max(self.max_message_size * 4, HARD_MESSAGE_SIZE))
        sock.setsockopt(zmq.SNDHWM, self.hwm)
        sock.setsockopt(zmq.RCVHWM, self.hwm)
        self._sockets.append(sock)
        return sock

    def bind(self, sock: zmq.Socket) -> None:
        """Bind ``listen_address``. A wildcard port (``tcp://127.0.0.1:*``) takes a free port
        from the OS; the address actually bound replaces the wildcard one under the cache key
        the part ``describes`` (e.g. ``pull_address``), so clients discover the real one."""
        requested = self.listen_address
        try:
            sock.bind(requested)
        except zmq.ZMQError as exc:
            raise ConfigurationError(f"part {self.name} cannot bind {requested!r}: {exc}") from None
        actual = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        if actual and actual != requested:
            self.listen_address = actual
            key = self.describes
            if key and self.cache.get(key) in (None, requested.encode()):
                self.cache[key] = actual.encode()
        self.logger.info("%s listening on %s", self.name, self.listen_address)

    def connect(self, sock: zmq.Socket) -> None:
        try:
            sock.connect(self.listen_address)
        except zmq.ZMQError as exc:
            raise ConfigurationError(
                f"part {self.name} cannot connect to {self.listen_address!r}: {exc}"
            ) from None

    def count(self) -> None:
        """Count one handled message; stop the router after ``messages`` of them."""
        self.handled += 1
        if self.handled >= self.messages and self.router is not None:
            self.router.stop()

    def decode(self, data: bytes) -> PalmMessage | None:
        """Decode a frame, logging and dropping what is not a PalmMessage."""
        if len(data) > self.max_message_size:
            self.logger.error(
                "%s: dropped a message of %d bytes (limit %d)",
                self.name, len(data), self.max_message_size,
            )
            return None
        try:
            return decode(data)
        except MessageError as exc:
            self.logger.error("%s: dropped a frame: %s", self.name, exc)
            return None


class Inbound(Part):
    """A part whose first message travels from the outside towards the router."""

    direction = "inbound"

    def __init__(self, name: str, listen_address: str, *, block: bool = False, **kw: object):
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.block = block
        self.socket: zmq.Socket | None = None

    @default_hook
    def scatter(self, message: PalmMessage) -> Iterator[PalmMessage]:
        """Turn one inbound message into zero, one or many (default: itself)."""
        yield message

    def on_readable(self) -> None:
        """Drain the socket (up to a batch) and forward what it holds."""
        assert self.socket is not None
        router = self.router
        assert router is not None
        sock = self.socket
        for _ in range(DRAIN_BATCH):
            if not has_input(sock):
                return
            self.receive(sock.recv_multipart(zmq.NOBLOCK))
            if not router.accepts(self) or router.stopping:
                return

    def receive(self, frames: list[bytes]) -> None:
        """Handle one multipart message from the socket (default: one PalmMessage)."""
        message = self.decode(frames[-1])
        if message is None:
            self.reject(frames)
            return
        self.forward(message)

    def forward(self, message: PalmMessage, raw: bytes | None = None) -> None:
        """Route ``message`` on; ``raw`` is its serialized form, when the part has it."""
        assert self.router is not None
        if self.log:
            self.logger.debug("%s: %s", self.log, message.function)
        reply = self.router.dispatch(self, message, raw)
        if self.block:
            self.reply(reply)
        self.count()

    def reject(self, frames: list[bytes]) -> None:
        """Called for a frame that is not a message; sockets that must answer override it."""

    def reply(self, message: PalmMessage | None) -> None:
        """Answer the peer of a blocking part (sockets that can answer override it)."""


class Outbound(Part):
    """A part that takes messages from the router and sends them outside."""

    direction = "outbound"

    def accepting(self) -> bool:
        """False while the part cannot take more messages (the router then stops feeding it)."""
        return True

    def send(self, message: PalmMessage, raw: bytes | None = None) -> PalmMessage | None:
        """Send one message; return an answer for a blocking inbound part, if there is one.

        ``raw``, when given, is ``message`` already serialized (a part may send it as is).
        """
        raise NotImplementedError

    def pass_on(self, message: PalmMessage) -> None:
        """Route an answer this part received to its own ``route``."""
        assert self.router is not None
        if self.route:
            self.router.deliver(self.route, message)


class Bypass(Part):
    """A part that serves its socket on its own, without routing through the router."""

    direction = "bypass"
