"""The HTTP side of the gateway: requests in, calls into the component, answers out.

``POST /foo`` (or ``GET /foo`` with an empty body, as the original gateway allowed) sends
one PalmMessage calling ``NAME.foo`` with the request body as payload into the component
through an inproc DEALER socket, and answers with the result. Requests are matched to
answers by the message ``tag``. Answers:

- ``200``: the result payload (``application/octet-stream``);
- ``400``: a request that is not HTTP;
- ``404``: the path is not a function name, or the workers have no such function;
- ``405``: another method; ``413``: the body is over ``max_body`` bytes;
- ``500``: the function failed (one short line of text, never a traceback);
- ``504``: no answer within ``timeout`` seconds (no worker, or a worker too slow).

Everything here runs on the gateway thread's event loop (see :mod:`pylm.parts.http_server`);
the only thing shared with the router thread is the inproc socket pair.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re

import zmq

from pylm.components.execution import NOT_A_FUNCTION
from pylm.message import PalmMessage
from pylm.parts import wire
from pylm.parts.http_server import Answer

__all__ = ["Bridge", "GatewayApp"]

#: ``/foo``, or ``/server.foo`` as the original gateway also accepted (a trailing slash is
#: allowed); the server part is not checked: the workers run ``foo``.
FUNCTION_NAME = re.compile(r"/(?:[^/.]+\.)?([A-Za-z_][A-Za-z0-9_]*)/?")
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
BINARY = [(b"content-type", b"application/octet-stream")]


class Bridge:
    """The gateway thread's end of the inproc link to the router: calls in, answers out.

    Calls made during one turn of the event loop travel in one batch frame. A call not
    answered within ``timeout`` seconds resolves to ``None``.
    """

    def __init__(self, context: zmq.Context, address: str, server: str, timeout: float,
                 logger: logging.Logger) -> None:
        self.server = server
        self.timeout = timeout
        self.logger = logger
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.SNDHWM, 0)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(address)
        self.pending: dict[int, tuple[asyncio.Future, asyncio.TimerHandle]] = {}
        self._tags = itertools.count(1)
        self._outgoing: list[bytes] = []
        self._loop = asyncio.get_running_loop()
        self._fd = self.socket.getsockopt(zmq.FD)
        self._loop.add_reader(self._fd, self._drain)

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        self.socket.close(linger=0)

    def call(self, function: str, payload: bytes) -> asyncio.Future[PalmMessage | None]:
        tag = next(self._tags)
        message = PalmMessage()
        message.pipeline = "http"
        message.client = "http"
        message.function = f"{self.server}.{function}"
        message.payload = payload
        message.tag = tag
        future: asyncio.Future[PalmMessage | None] = self._loop.create_future()
        timer = self._loop.call_later(self.timeout, self._expire, tag)
        self.pending[tag] = (future, timer)
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.append(message.SerializeToString())
        return future

    def _expire(self, tag: int) -> None:
        entry = self.pending.pop(tag, None)
        if entry is not None and not entry[0].done():
            entry[0].set_result(None)

    def _flush(self) -> None:
        batch, self._outgoing = self._outgoing, []
        frame = batch[0] if len(batch) == 1 else wire.BATCH + wire.pack(batch)
        self.socket.send(frame, zmq.NOBLOCK)
        self._drain()  # the FD is edge-triggered: a send may have consumed the read edge

    def _drain(self) -> None:
        sock = self.socket
        while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            frame = sock.recv(zmq.NOBLOCK)
            try:
                items = wire.unpack(frame, 2) if frame[:2] == wire.BATCH else [frame]
            except wire.WireError as exc:
                self.logger.error("HttpGateway: dropped a batch of answers: %s", exc)
                continue
            for item in items:
                message = PalmMessage()
                try:
                    message.ParseFromString(item)
                except Exception:
                    self.logger.error("HttpGateway: dropped an answer that could not be decoded")
                    continue
                entry = self.pending.pop(message.tag, None)
                if entry is not None:
                    future, timer = entry
                    timer.cancel()
                    if not future.done():
                        future.set_result(message)


class GatewayApp:
    """Turns one HTTP request into one call, and its result into the HTTP answer."""

    def __init__(self, bridge: Bridge, timeout: float, logger: logging.Logger) -> None:
        self.bridge = bridge
        self.timeout = timeout
        self.logger = logger

    def __call__(self, method: str, path: str, body: bytes) -> Answer | asyncio.Future[Answer]:
        if method not in ("POST", "GET"):
            return 405, [*TEXT, (b"allow", b"POST, GET")], b"only POST is allowed\n"
        match = FUNCTION_NAME.fullmatch(path)
        if match is None:
            return 404, TEXT, b"not a function name: use POST /function\n"
        function = match.group(1)
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

        def done(call: asyncio.Future[PalmMessage | None]) -> None:
            answer.set_result(self._answer(function, call.result()))

        self.bridge.call(function, body).add_done_callback(done)
        return answer

    def _answer(self, function: str, message: PalmMessage | None) -> Answer:
        if message is None:
            self.logger.warning(
                "HttpGateway: no answer for /%s within %s s", function, self.timeout
            )
            return 504, TEXT, f"no answer within {self.timeout:g} s\n".encode()
        if message.error:
            if message.error.endswith(NOT_A_FUNCTION):
                return 404, TEXT, f"no function {function!r} on the workers\n".encode()
            return 500, TEXT, f"{message.error}\n".encode(errors="replace")
        return 200, BINARY, message.payload
