"""``HttpConnection``: an outbound part that sends each message to an HTTP worker (spec §4).

Each message is POSTed, serialized, to ``listen_address`` (the worker's URL; see
:mod:`pylm.remote.server` for the protocol), and the answer is passed on to ``route``.
The requests run on ONE helper thread with an asyncio loop and a pooled keep-alive
``httpx`` client, at most ``concurrency`` at a time; answers come back to the router
through a socket pair the router watches, so the router thread never waits on HTTP.

An answer that is not a PalmMessage (an HTTP error, a worker that cannot be reached, a
timeout) becomes an error reply, so the client is told which message failed. ``204`` (the
function returned ``None``) drops the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import deque
from collections.abc import Iterable

import zmq

from pylm.errors import ConfigurationError, MessageError
from pylm.message import PalmMessage, decode, error_reply
from pylm.parts.core import Handler, Outbound

__all__ = ["HttpConnection"]

#: Requests in flight at once, by default.
DEFAULT_CONCURRENCY = 32
#: Seconds an HTTP worker may take to answer one message.
DEFAULT_TIMEOUT = 30.0
#: How long closing waits for the helper thread.
CLOSE_TIMEOUT = 5.0


class HttpConnection(Outbound):
    """POSTs each message to the HTTP worker at ``listen_address``; passes answers on.

    ``concurrency`` bounds the requests in flight (``max_workers``, the original's name,
    is accepted for it); ``timeout`` bounds each request.
    """

    def __init__(
        self,
        name: str,
        listen_address: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_workers: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        **kw: object,
    ) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.concurrency = max(1, max_workers if max_workers is not None else concurrency)
        self.timeout = timeout
        self.in_flight = 0
        self._answers: deque[PalmMessage | None] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None
        self._ready = threading.Event()
        self._done: asyncio.Event | None = None

    # -- life cycle (router thread) -----------------------------------------------------
    def open(self, context: zmq.Context) -> None:
        if not self.listen_address.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"part {self.name}: {self.listen_address!r} is not an http:// URL"
            )
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._thread = threading.Thread(target=self._serve, name=f"{self.name}-http", daemon=True)
        self._thread.start()
        self._ready.wait(CLOSE_TIMEOUT)
        self.logger.info("%s posts to %s", self.name, self.listen_address)

    def pollables(self) -> Iterable[tuple[int, Handler]]:
        assert self._reader is not None
        return [(self._reader.fileno(), self._on_answers)]

    def close(self) -> None:
        loop, done = self._loop, self._done
        if loop is not None and done is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(done.set)
        if self._thread is not None:
            self._thread.join(CLOSE_TIMEOUT)
            self._thread = None
        for sock in (self._reader, self._writer):
            if sock is not None:
                sock.close()
        self._reader = self._writer = None
        super().close()

    # -- the router's side --------------------------------------------------------------
    def accepting(self) -> bool:
        return self.in_flight < self.concurrency * 2

    def send(self, message: PalmMessage, raw: bytes | None = None) -> None:
        data = raw if raw is not None else message.SerializeToString()
        assert self._loop is not None
        self.in_flight += 1
        self._loop.call_soon_threadsafe(self._start_post, message, data)

    def _on_answers(self) -> None:
        assert self._reader is not None
        with contextlib.suppress(BlockingIOError):
            while self._reader.recv(4096):
                pass
        answers = self._answers
        while answers:
            answer = answers.popleft()
            self.in_flight -= 1
            if answer is not None:
                self.pass_on(answer)
            self.count()

    # -- the helper thread --------------------------------------------------------------
    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        import httpx  # here, not at the top: importing every part must stay cheap

        self._httpx = httpx
        self._done = asyncio.Event()
        self._limit = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        self._tasks: set[asyncio.Task] = set()
        async with httpx.AsyncClient(limits=limits, timeout=self.timeout) as client:
            self._client = client
            self._ready.set()
            await self._done.wait()
            for task in self._tasks:  # stopping: requests still running are abandoned
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start_post(self, message: PalmMessage, data: bytes) -> None:
        task = asyncio.ensure_future(self._post(message, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, message: PalmMessage, data: bytes) -> None:
        async with self._limit:
            answer = await self._exchange(message, data)
        self._answers.append(answer)
        with contextlib.suppress(BlockingIOError, OSError):
            self._writer.send(b"\0")  # type: ignore[union-attr]

    async def _exchange(self, message: PalmMessage, data: bytes) -> PalmMessage | None:
        try:
            response = await self._client.post(
                self.listen_address, content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
        except self._httpx.HTTPError as exc:
            return self._failed(message, f"HTTP worker {self.listen_address} failed: "
                                         f"{type(exc).__name__}: {exc}")
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            text = response.content[:200].decode(errors="replace").strip()
            return self._failed(message, f"HTTP worker answered {response.status_code}: {text}")
        try:
            return decode(response.content)
        except MessageError as exc:
            return self._failed(message, f"HTTP worker gave a bad answer: {exc}")

    def _failed(self, message: PalmMessage, reason: str) -> PalmMessage:
        self.logger.error("%s: %s", self.name, reason)
        return error_reply(message, reason)
