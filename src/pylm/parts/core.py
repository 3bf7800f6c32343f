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
import time

import zmq

from pylm.errors import ConfigurationError
from pylm.lifecycle import StopSignal
from pylm.log import component_logger
from pylm.message import PalmMessage
from pylm.parts.base import (
    DEFAULT_HWM,
    DRAIN_BATCH,
    HARD_MESSAGE_SIZE,
    LINGER,
    MAX_MESSAGE_SIZE,
    Bypass,
    Handler,
    Inbound,
    Outbound,
    Part,
    default_hook,
    has_input,
    is_default,
    zmq_context,
)

__all__ = [
    "Router", "Part", "Inbound", "Outbound", "Bypass", "Handler", "zmq_context", "has_input",
    "default_hook", "is_default", "MAX_MESSAGE_SIZE", "HARD_MESSAGE_SIZE", "DRAIN_BATCH",
    "LINGER", "DEFAULT_HWM",
]


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
