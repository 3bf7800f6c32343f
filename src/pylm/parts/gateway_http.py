"""The HTTP side of the gateway: an ASGI application served by uvicorn on its own thread.

``POST /foo`` (or ``GET /foo``, with an empty body, as the original gateway allowed) sends
one PalmMessage calling ``NAME.foo`` with the request body as payload into the component
through an inproc DEALER socket, and answers with the result. Requests are matched to
answers by the message ``tag``. Answers:

- ``200``: the result payload (``application/octet-stream``);
- ``404``: the path is not a function name, or no worker has that function;
- ``405``: another method; ``413``: the body is over ``max_body`` bytes;
- ``500``: the function failed (one short line of text, never a traceback);
- ``504``: no answer within ``timeout`` seconds (no worker, or a worker too slow).

Everything here runs on the gateway thread's event loop; the only thing shared with the
router thread is the inproc socket pair (one socket on each side).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import zmq

from pylm.components.execution import NOT_A_FUNCTION
from pylm.message import PalmMessage
from pylm.parts import wire

__all__ = ["Bridge", "GatewayApp"]

FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
BINARY = [(b"content-type", b"application/octet-stream")]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Bridge:
    """The gateway thread's end of the inproc link to the router: calls in, answers out.

    Calls made during one turn of the event loop travel in one batch frame.
    """

    def __init__(self, context: zmq.Context, address: str, server: str,
                 logger: logging.Logger) -> None:
        self.server = server
        self.logger = logger
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.SNDHWM, 0)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(address)
        self.pending: dict[int, asyncio.Future[PalmMessage]] = {}
        self._tags = itertools.count(1)
        self._outgoing: list[bytes] = []
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.socket.getsockopt(zmq.FD), self._drain)

    def close(self) -> None:
        self._loop.remove_reader(self.socket.getsockopt(zmq.FD))
        self.socket.close(linger=0)

    async def call(self, function: str, payload: bytes, timeout: float) -> PalmMessage:
        tag = next(self._tags)
        message = PalmMessage()
        message.pipeline = "http"
        message.client = "http"
        message.function = f"{self.server}.{function}"
        message.payload = payload
        message.tag = tag
        future: asyncio.Future[PalmMessage] = self._loop.create_future()
        self.pending[tag] = future
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.append(message.SerializeToString())
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(tag, None)

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
                future = self.pending.get(message.tag)
                if future is not None and not future.done():
                    future.set_result(message)


class GatewayApp:
    """The ASGI application: one call into the component per request."""

    def __init__(self, bridge: Callable[[], Bridge], max_body: int, timeout: float,
                 logger: logging.Logger) -> None:
        self._bridge = bridge
        self.max_body = max_body
        self.timeout = timeout
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        status, body, headers = await self._answer(scope, receive)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, bytes, list]:
        method = scope["method"]
        if method not in ("POST", "GET"):
            return 405, b"only POST is allowed\n", [*TEXT, (b"allow", b"POST, GET")]
        function = scope["path"][1:]
        if not FUNCTION_NAME.fullmatch(function):
            return 404, b"not a function name: use POST /function\n", TEXT
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    return 400, b"bad Content-Length\n", TEXT
                if int(value) > self.max_body:
                    return 413, self._too_large(int(value)), TEXT
        body = bytearray()
        more = True
        while more:
            event = await receive()
            if event["type"] == "http.disconnect":
                return 400, b"", TEXT
            body += event.get("body", b"")
            more = event.get("more_body", False)
            if len(body) > self.max_body:
                return 413, self._too_large(len(body)), TEXT
        try:
            answer = await self._bridge().call(function, bytes(body), self.timeout)
        except TimeoutError:
            self.logger.warning(
                "HttpGateway: no answer for /%s within %s s", function, self.timeout
            )
            return 504, f"no answer within {self.timeout:g} s\n".encode(), TEXT
        if answer.error:
            if answer.error.endswith(NOT_A_FUNCTION):
                return 404, f"no function {function!r} on the workers\n".encode(), TEXT
            return 500, f"{answer.error}\n".encode(errors="replace"), TEXT
        return 200, answer.payload, BINARY

    def _too_large(self, size: int) -> bytes:
        return f"body of {size} bytes is over the limit of {self.max_body}\n".encode()


def listening_socket(hostname: str, port: int, backlog: int = 2048) -> socket.socket:
    """Bind the gateway's TCP socket now, so that a bad address fails at start."""
    return socket.create_server((hostname or "0.0.0.0", port), backlog=backlog)
