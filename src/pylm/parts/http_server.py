"""A small HTTP/1.1 server on asyncio, for the gateway (``httptools`` parses the requests).

Why not a general ASGI server: the gateway does one thing per request (hand the body to
the component, wait for the answer, write it back) and is benchmarked with a new
connection per request, where a general server's per-connection machinery costs three
times the work of the request itself.

- Requests on a connection are answered in order, one at a time (reading pauses while a
  request is being answered, which also bounds the memory a client can take).
- ``Content-Length`` or chunked bodies; a body over ``max_body`` is answered 413 at once
  (from the header when it says so) and the connection is closed.
- Keep-alive as the client asks; an idle connection is closed after ``idle_timeout``.
- A request that cannot be parsed is answered 400 and the connection closed.

``handler(method, path, body)`` returns ``(status, headers, body)`` or a future of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable
from http import HTTPStatus

import httptools

__all__ = ["Answer", "Handler", "HttpServerProtocol", "listening_socket", "serve"]

#: (status, extra headers as (name, value) bytes pairs, body)
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
Handler = Callable[[str, str, bytes], "Answer | asyncio.Future[Answer]"]

IDLE_TIMEOUT = 15.0
_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}


def render(status: int, headers: list[tuple[bytes, bytes]], body: bytes, keep_alive: bool) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Unknown"))]
    lines.extend(name + b": " + value for name, value in headers)
    lines.append(b"content-length: %d" % len(body))
    if not keep_alive:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class HttpServerProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, handler: Handler, max_body: int, idle_timeout: float = IDLE_TIMEOUT):
        self.handler = handler
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._body: list[bytes] = []
        self._size = 0
        self._refused = False
        self._idle: asyncio.TimerHandle | None = None
        self._queue: deque[list] = deque()

    # -- connection -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, b"upgrades are not supported\n")
        except httptools.HttpParserError:
            if not self._refused:
                self._refuse(400, b"malformed HTTP request\n")

    def _arm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(self.idle_timeout, self._close)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _refuse(self, status: int, body: bytes) -> None:
        """Answer at once and close the connection (the rest of the request is ignored)."""
        self._refused = True
        if self.transport is not None:
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            self.transport.write(render(status, headers, body, keep_alive=False))
            self.transport.close()

    # -- httptools callbacks --------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-length" and value.isdigit() and int(value) > self.max_body:
            self._refuse(413, b"body of %d bytes is over the limit of %d\n"
                         % (int(value), self.max_body))
            raise httptools.HttpParserError("body too large")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.max_body:
            self._refuse(413, b"body over the limit of %d bytes\n" % self.max_body)
            raise httptools.HttpParserError("body too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._refused or self.transport is None:
            return
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        keep_alive = self.parser.should_keep_alive()
        self.transport.pause_reading()
        method = self.parser.get_method().decode("ascii", "replace")
        path = httptools.parse_url(self._url).path.decode("utf-8", "replace")
        body = b"".join(self._body)
        self._body = []
        try:
            answer = self.handler(method, path, body)
        except Exception:  # noqa: BLE001 - never a traceback to the client
            answer = (500, [], b"internal error\n")
        # Several requests may come in one read (pipelining): answer them in order.
        slot: list = [None, keep_alive]
        self._queue.append(slot)
        if isinstance(answer, tuple):
            slot[0] = answer
            self._pump()
        else:
            answer.add_done_callback(lambda done: self._fill(slot, done.result()))

    def _fill(self, slot: list, answer: Answer) -> None:
        slot[0] = answer
        self._pump()

    def _pump(self) -> None:
        queue = self._queue
        while queue and queue[0][0] is not None:
            (status, headers, body), keep_alive = queue.popleft()
            transport = self.transport
            if transport is None:
                queue.clear()
                return
            transport.write(render(status, headers, body, keep_alive))
            if not keep_alive:
                queue.clear()
                transport.close()
                return
        if not queue and self.transport is not None:
            self.transport.resume_reading()
            self._arm_idle()


def listening_socket(hostname: str, port: int, backlog: int = 2048) -> socket.socket:
    """Bind the server's TCP socket now, so that a bad address fails at once."""
    sock = socket.create_server((hostname or "0.0.0.0", port), backlog=backlog)
    sock.setblocking(False)
    return sock


async def serve(sock: socket.socket, handler: Handler, max_body: int,
                stop: asyncio.Event) -> None:
    """Serve ``sock`` until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpServerProtocol(handler, max_body), sock=sock, backlog=2048
    )
    try:
        await stop.wait()
    finally:
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2.0)
