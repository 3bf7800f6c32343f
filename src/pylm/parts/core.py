"""The router and the base classes of every part.

A component is one :class:`Router` plus parts, all in one thread. The router owns a single
ZeroMQ poller over every part's sockets; when an inbound part's socket is readable, the part
drains it (up to a batch), and each message it accepts goes *by a plain function call* to the
outbound part named by its ``route``. There is no socket hop between parts and the router,
which is why a message costs a few microseconds inside a component instead of a round trip.

Flow control: an inbound part is polled only while the outbound part it routes to is
``accepting()``; otherwise its messages wait in the kernel and ZeroMQ queues, which fill and
push back on the sender (ZeroMQ high-water marks), so memory stays bounded end to end.

Parts:
- *inbound* parts receive from outside and route inwards (:meth:`Inbound.scatter` may turn one
  message into zero or several); a *blocking* inbound part (``block=True``) answers its peer
  with what the outbound part returned;
- *outbound* parts take messages from the router and send them outside (:meth:`Outbound.send`);
  an outbound part that produces answers routes them on to its own ``route``;
- *bypass* parts serve their socket without the router (e.g. the cache service).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import ClassVar

import zmq

from pylm.cache import Cache
from pylm.errors import ConfigurationError, MessageError
from pylm.lifecycle import StopSignal
from pylm.log import component_logger
from pylm.message import PalmMessage, decode

__all__ = ["Router", "Part", "Inbound", "Outbound", "Bypass", "zmq_context", "MAX_MESSAGE_SIZE"]

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


class _Timer:
    __slots__ = ("deadline", "callback", "interval", "cancelled")

    def __init__(self, deadline: float, callback: Handler, interval: float | None) -> None:
        self.deadline = deadline
        self.callback = callback
        self.interval = interval
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Router:
    """Runs every part of a component in one poll loop and routes between them."""

    def __init__(self, logger: logging.Logger | None = None, **unused: object) -> None:
        self.logger = logger or component_logger("router")
        self.parts: dict[str, Part] = {}
        self.stopping = False
        self._poller = zmq.Poller()
        self._handlers: dict[object, Handler] = {}
        self._inbound_flags: dict[Inbound, int] = {}
        self._timers: list[tuple[float, int, _Timer]] = []
        self._ticket = itertools.count()
        self._soon: dict[Handler, None] = {}
        self._stop: StopSignal | None = None

    # -- building ---------------------------------------------------------------------
    def add(self, part: Part) -> None:
        if part.name in self.parts:
            raise ConfigurationError(f"two parts are named {part.name!r}")
        part.router = self
        self.parts[part.name] = part

    def check_routes(self) -> None:
        for part in self.parts.values():
            if isinstance(part, Inbound) and not isinstance(self.parts.get(part.route), Outbound):
                raise ConfigurationError(
                    f"inbound part {part.name!r} routes to {part.route!r}, "
                    "which is not an outbound part of this server"
                )
            if isinstance(part, Outbound) and part.route and part.route not in self.parts:
                raise ConfigurationError(
                    f"outbound part {part.name!r} routes to unknown part {part.route!r}"
                )

    # -- routing (hot path) -----------------------------------------------------------
    def dispatch(
        self, source: Inbound, message: PalmMessage, raw: bytes | None = None
    ) -> PalmMessage | None:
        target: Outbound = self.parts[source.route]  # type: ignore[assignment]
        if is_default(source.scatter):
            return target.send(message, raw)
        reply = None
        for out in source.scatter(message):
            reply = target.send(out)
        return reply

    def deliver(self, name: str, message: PalmMessage) -> None:
        """Send ``message`` to the outbound part ``name`` (used by parts that pass answers on)."""
        self.parts[name].send(message)  # type: ignore[attr-defined]

    def accepts(self, source: Inbound) -> bool:
        return self.parts[source.route].accepting()  # type: ignore[attr-defined]

    # -- timers and deferred work -----------------------------------------------------
    def call_later(self, delay: float, callback: Handler) -> _Timer:
        timer = _Timer(time.monotonic() + delay, callback, None)
        heapq.heappush(self._timers, (timer.deadline, next(self._ticket), timer))
        return timer

    def call_every(self, interval: float, callback: Handler) -> _Timer:
        timer = _Timer(time.monotonic() + interval, callback, interval)
        heapq.heappush(self._timers, (timer.deadline, next(self._ticket), timer))
        return timer

    def soon(self, callback: Handler) -> None:
        """Run ``callback`` once after the sockets that are ready now have been served."""
        self._soon[callback] = None

    def watch(self, target: zmq.Socket | int, handler: Handler) -> None:
        """Watch an extra socket or file descriptor for input (parts with helper threads)."""
        self._handlers[target] = handler
        self._poller.register(target, zmq.POLLIN)

    # -- running ----------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the loop (safe from a signal handler or another thread)."""
        self.stopping = True
        if self._stop is not None:
            self._stop.set()

    def run(self, context: zmq.Context | None = None, handle_signals: bool = True) -> None:
        """Open every part, serve until :meth:`stop` (or SIGTERM/SIGINT), then close them."""
        context = context or zmq_context
        self.check_routes()
        self._stop = StopSignal(self.logger)
        self.watch(self._stop.fileno(), self._on_stop)
        if handle_signals:
            self._stop.install()
        try:
            self.logger.info("Launch router")
            for part in self.parts.values():
                part.open(context)
                for target, handler in part.pollables():
                    self.watch(target, handler)
                if isinstance(part, Inbound):
                    assert part.socket is not None
                    self._handlers[part.socket] = part.on_readable
                    self._poller.register(part.socket, zmq.POLLIN)
                    self._inbound_flags[part] = zmq.POLLIN
                    self.logger.info("Inbound %s connects to %s", part.name, part.route)
                elif isinstance(part, Outbound):
                    where = part.route or "exterior"
                    self.logger.info("Outbound %s connects to %s", part.name, where)
                self.logger.info("%s successfully started", part.name)
            self._loop()
            self._linger()
        finally:
            for part in self.parts.values():
                part.close()
            self._stop.close()
            self._stop = None

    def _on_stop(self) -> None:
        assert self._stop is not None
        self._stop.drain()
        if self._stop.is_set:
            self.stopping = True

    def _loop(self) -> None:
        poll = self._poller.poll
        handlers = self._handlers
        while not self.stopping:
            self._update_backpressure()
            timeout = self._run_timers()
            if self._soon:
                timeout = 0
            for target, _event in poll(timeout):
                handlers[target]()
                if self.stopping:
                    return
            self._run_soon()

    def _linger(self, timeout: float = LINGER) -> None:
        """After a stop: deliver what parts still hold (no new input is read), briefly."""
        self._run_soon()
        for part in self._inbound_flags:
            self._poller.modify(part.socket, 0)
        deadline = time.monotonic() + timeout
        while any(part.pending() for part in self.parts.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                self.logger.warning("Stopped with messages still undelivered")
                return
            self._run_timers()
            for target, _event in self._poller.poll(min(50, int(left * 1000) + 1)):
                if target in self._handlers and not isinstance(target, int):
                    self._handlers[target]()
            self._run_soon()

    def _run_soon(self) -> None:
        while self._soon:
            callbacks = list(self._soon)
            self._soon.clear()
            for callback in callbacks:
                callback()

    def _update_backpressure(self) -> None:
        for part, flags in self._inbound_flags.items():
            wanted = zmq.POLLIN if self.accepts(part) else 0
            if wanted != flags:
                self._poller.modify(part.socket, wanted)
                self._inbound_flags[part] = wanted

    def _run_timers(self) -> int | None:
        """Run the timers that are due; return the poll timeout in ms until the next one."""
        timers = self._timers
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            _, _, timer = heapq.heappop(timers)
            if timer.cancelled:
                continue
            if timer.interval is not None:
                timer.deadline = now + timer.interval
                heapq.heappush(timers, (timer.deadline, next(self._ticket), timer))
            timer.callback()
        if not timers:
            return None
        return max(0, int((timers[0][0] - time.monotonic()) * 1000) + 1)
