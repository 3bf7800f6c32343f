"""The HTTP gateway: an HTTP server in front of a master's workers (spec §4).

Wired as the PALM docs show, all parts in one component::

    HTTP clients -> HttpGateway (thread) -> inproc -> GatewayRouter -> WorkerPush -> workers
    HTTP clients <- HttpGateway (thread) <- inproc <- GatewayDealer <- WorkerPull <- workers

- :class:`GatewayRouter` (inbound) binds a ROUTER socket at an ``inproc://`` address; the
  gateway thread's requests arrive there and go to ``route`` (the WorkerPush part);
- :class:`GatewayDealer` (outbound, ``listen_address`` = the same inproc address) takes the
  workers' results and hands each back through that ROUTER socket to the request waiting
  for it (no extra socket hop: both parts run in the router's thread);
- :class:`HttpGateway` (bypass) serves HTTP on its own thread and asyncio event loop:
  ``POST /foo`` calls the workers' ``foo`` with the body (see :mod:`pylm.parts.gateway_http`
  for the answers, :mod:`pylm.parts.http_server` for the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

import zmq

from pylm.errors import ConfigurationError
from pylm.message import PalmMessage
from pylm.parts import wire
from pylm.parts.core import Bypass, Inbound, Outbound
from pylm.parts.gateway_http import Bridge, GatewayApp
from pylm.parts.http_server import listening_socket, serve
from pylm.parts.services import own_name

__all__ = ["GatewayRouter", "GatewayDealer", "HttpGateway", "MAX_BODY", "REQUEST_TIMEOUT"]

#: Default largest request body (bytes) the HTTP gateway accepts; more is answered 413.
MAX_BODY = 1024 * 1024
#: Default seconds a request waits for its result before a 504.
REQUEST_TIMEOUT = 30.0
#: Seconds the gateway thread may take to start or to stop.
THREAD_TIMEOUT = 10.0


class GatewayRouter(Inbound):
    """Binds a ROUTER socket at an inproc address for the gateway's requests."""

    def __init__(self, name: str = "gateway_router",
                 listen_address: str = "inproc://gateway_router", **kw: object) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.peer: bytes | None = None
        self._answers: list[bytes] = []

    def open(self, context: zmq.Context) -> None:
        self.socket = self.make_socket(context, zmq.ROUTER)
        self.socket.setsockopt(zmq.SNDHWM, 0)
        self.bind(self.socket)

    def receive(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            self.logger.error("%s: dropped a request of %d frames", self.name, len(frames))
            return
        self.peer, frame = frames
        try:
            items = wire.unpack(frame, 2) if frame[:2] == wire.BATCH else [frame]
        except wire.WireError as exc:
            self.logger.error("%s: dropped a batch: %s", self.name, exc)
            return
        for item in items:
            message = self.decode(item)
            if message is not None:
                self.forward(message, item)

    def answer(self, data: bytes) -> None:
        """Queue one serialized answer for the gateway thread (sent once per loop turn)."""
        if not self._answers and self.router is not None:
            self.router.soon(self._flush)
        self._answers.append(data)

    def _flush(self) -> None:
        batch, self._answers = self._answers, []
        if self.peer is None or self.socket is None or not batch:
            return
        frame = batch[0] if len(batch) == 1 else wire.BATCH + wire.pack(batch)
        try:
            self.socket.send_multipart([self.peer, frame], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self.logger.error("%s: could not answer the gateway: %s", self.name, exc)


class GatewayDealer(Outbound):
    """Hands results back to the :class:`GatewayRouter` bound at ``listen_address``."""

    def __init__(self, name: str = "gateway_dealer",
                 listen_address: str = "inproc://gateway_router", **kw: object) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.gateway: GatewayRouter | None = None

    def open(self, context: zmq.Context) -> None:
        assert self.router is not None
        routers = [
            part for part in self.router.parts.values()
            if isinstance(part, GatewayRouter) and part.listen_address == self.listen_address
        ]
        if not routers:
            raise ConfigurationError(
                f"part {self.name}: no GatewayRouter part listens on {self.listen_address!r}"
            )
        self.gateway = routers[0]

    def send(self, message: PalmMessage, raw: bytes | None = None) -> None:
        assert self.gateway is not None
        self.gateway.answer(raw if raw is not None else message.SerializeToString())
        self.count()


class HttpGateway(Bypass):
    """Serves HTTP on ``hostname:port`` and calls the workers through ``listen_address``.

    ``port`` 0 takes a free port (logged as ``HttpGateway listening on http://HOST:PORT``
    and stored in the cache as ``http_address``). ``max_body`` bounds request bodies
    (413 beyond), ``timeout`` the wait for each result (504 beyond).
    """

    def __init__(
        self,
        name: str = "HttpGateway",
        listen_address: str = "inproc://gateway_router",
        hostname: str = "",
        port: int = 8888,
        *,
        max_body: int = MAX_BODY,
        timeout: float = REQUEST_TIMEOUT,
        **kw: object,
    ) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.hostname = hostname
        self.port = port
        self.max_body = max_body
        self.timeout = timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None

    def open(self, context: zmq.Context) -> None:
        try:
            sock = listening_socket(self.hostname, self.port)
        except OSError as exc:
            raise ConfigurationError(
                f"part {self.name} cannot listen on {self.hostname or '*'}:{self.port}: {exc}"
            ) from None
        host, port = sock.getsockname()[:2]
        self.port = port
        self._thread = threading.Thread(
            target=self._serve, args=(context, sock), name=self.name, daemon=True
        )
        self._thread.start()
        if not self._started.wait(THREAD_TIMEOUT) or self._failure is not None:
            raise ConfigurationError(f"part {self.name} did not start: {self._failure}")
        address = f"http://{self.hostname or host}:{port}"
        self.cache["http_address"] = address.encode()
        self.logger.info("%s listening on %s", self.name, address)

    def _serve(self, context: zmq.Context, sock: socket.socket) -> None:
        try:
            import uvloop

            loop = uvloop.new_event_loop()
        except ImportError:
            loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(context, sock))
        except BaseException as exc:  # noqa: BLE001 - reported to the router thread
            self._failure = exc
            self.logger.exception("%s stopped", self.name)
        finally:
            self._started.set()
            loop.close()

    async def _main(self, context: zmq.Context, sock: socket.socket) -> None:
        self._stop = asyncio.Event()
        bridge = Bridge(context, self.listen_address, own_name(self) or "_", self.timeout,
                        self.logger)
        app = GatewayApp(bridge, self.timeout, self.logger)
        try:
            serving = asyncio.ensure_future(serve(sock, app, self.max_body, self._stop))
            await asyncio.sleep(0)
            self._started.set()
            await serving
        finally:
            bridge.close()

    def close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(THREAD_TIMEOUT)
            self._thread = None
        super().close()
