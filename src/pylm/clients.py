"""``Client``: talks to any PALM server (spec §2, §3).

The client reads the server's addresses from its cache service, PUSHes serialized
PalmMessages to its pull address and SUBscribes on its pub address with its own id as the
topic. One pair of sockets lives as long as the client, so the subscription is made once;
the server also holds results until it sees the subscription, so no reply is ever lost to
the slow-joiner problem and no ``sleep`` is needed.

Every result carries the ``tag`` its message was sent with (call number and position), so a
late result of an earlier call that timed out is recognised and dropped.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Iterable, Iterator

import zmq

from pylm.discovery import CacheConnection
from pylm.errors import RemoteError
from pylm.log import component_logger
from pylm.message import PalmMessage
from pylm.parts import wire
from pylm.parts.core import DEFAULT_HWM, has_input, zmq_context

__all__ = ["Client"]

#: A batch pushed to the server holds at most this many messages or bytes.
BATCH_MESSAGES = 64
BATCH_BYTES = 256 * 1024
#: How long ``eval`` watches for its answer before sleeping in a poll.
SPIN_SECONDS = 0.0005
#: Batches the client's push socket may queue (ZeroMQ high-water mark).
PUSH_HWM = 16

Function = str | list[str] | tuple[str, ...]


def _wait_ms(deadline: float | None) -> int | None:
    """Milliseconds left until ``deadline`` (None: wait forever; at least 0)."""
    if deadline is None:
        return None
    return max(0, int((deadline - time.monotonic()) * 1000))


def _function_text(function: Function) -> str:
    if isinstance(function, str):
        return function
    return " ".join(function)


class Client:
    """A client of the server ``server_name`` whose cache service is at ``db_address``.

    ``session`` tags every message (the ``pipeline`` field) and prefixes cache keys.
    ``timeout`` bounds how long configuration calls wait for the server.
    """

    def __init__(
        self,
        server_name: str,
        db_address: str,
        push_address: str | None = None,
        sub_address: str | None = None,
        session: str | None = None,
        logging_level: int = logging.INFO,
        this_config: bool = False,
        *,
        timeout: float | None = 10.0,
    ) -> None:
        self.server_name = server_name
        self.db_address = db_address
        self.uuid = str(uuid.uuid4())
        self.session_set = session is not None
        self.pipeline = session if session is not None else str(uuid.uuid4())
        self.logger = component_logger(f"client {self.uuid}", logging_level)
        self.db = CacheConnection(db_address, server_name, self.uuid)
        self.push_address = push_address
        self.sub_address = sub_address
        self._calls = itertools.count(1)
        self._ident = self.uuid.encode()
        self._push: zmq.Socket | None = None
        self._sub: zmq.Socket | None = None
        try:
            if this_config:
                self.logger.warning("Not fetching config from the server")
            else:
                self.logger.info("Fetching configuration from the server")
                self._fetch_config(timeout)
            if not self.push_address or not self.sub_address:
                raise ValueError("push_address and sub_address are needed with this_config")
            self._open()
        except BaseException:
            self.close()
            raise

    def _fetch_config(self, timeout: float | None) -> None:
        self.db.expect_server(self.server_name, timeout)
        if not self.sub_address:
            self.sub_address = self.db.address("pub_address", timeout)
            self.logger.info("CLIENT %s: Got subscription address: %s", self.uuid, self.sub_address)
        if not self.push_address:
            self.push_address = self.db.address("pull_address", timeout)
            self.logger.info("CLIENT %s: Got push address: %s", self.uuid, self.push_address)

    def _open(self) -> None:
        self._sub = zmq_context.socket(zmq.SUB)
        self._sub.setsockopt(zmq.RCVHWM, DEFAULT_HWM)
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.setsockopt(zmq.SUBSCRIBE, self.uuid.encode())
        self._sub.connect(self.sub_address)
        self._push = zmq_context.socket(zmq.PUSH)
        self._push.setsockopt(zmq.SNDHWM, PUSH_HWM)
        self._push.setsockopt(zmq.LINGER, 5000)
        self._push.connect(self.push_address)

    # -- life cycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Close the client's sockets (messages already sent are still delivered)."""
        for sock in (self._push, self._sub):
            if sock is not None:
                sock.close()
        self._push = self._sub = None
        self.db.close()

    clean = close

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- messages -----------------------------------------------------------------------
    def _message(self, function: str, payload: bytes, cache: str, tag: int) -> bytes:
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError(f"payloads must be bytes, not {type(payload).__name__}")
        message = PalmMessage()
        message.function = function
        message.pipeline = self.pipeline
        message.client = self.uuid
        message.payload = bytes(payload)
        message.tag = tag
        message.batched = True
        if cache:
            message.cache = cache
        return message.SerializeToString()

    def _results(self, call: int) -> Iterator[PalmMessage]:
        """The results waiting in the SUB socket that belong to ``call``."""
        sub = self._sub
        assert sub is not None
        while has_input(sub):
            frames = sub.recv_multipart(zmq.NOBLOCK)
            items = frames[1:]
            if frames[-1][:2] == wire.BATCH:
                try:
                    items = wire.unpack(frames[-1], 2)
                except wire.WireError as exc:
                    self.logger.error("Dropped a batch of results: %s", exc)
                    continue
            for data in items:
                message = PalmMessage()
                try:
                    message.ParseFromString(data)
                except Exception:
                    self.logger.error("Dropped a result that could not be decoded")
                    continue
                if message.tag and message.tag >> 32 != call:
                    self.logger.debug("Dropped a late result of an earlier call")
                    continue
                yield message

    @staticmethod
    def _outcome(message: PalmMessage) -> bytes | RemoteError:
        if message.error:
            return RemoteError(message.function, message.error, message.tag & 0xFFFFFFFF)
        return message.payload

    def eval(
        self,
        function: Function,
        payload: bytes,
        messages: int = 1,
        cache: str = "",
        timeout: float | None = None,
    ) -> bytes | list[bytes]:
        """Send one message; return its result (a list of ``messages`` results when > 1).

        Raises :class:`~pylm.errors.RemoteError` when the server reports a failure and
        ``TimeoutError`` when no result comes within ``timeout`` seconds.
        """
        if self._push is None or self._sub is None:
            raise RuntimeError("the client is closed")
        call = next(self._calls)
        frame = self._message(_function_text(function), payload, cache, call << 32)
        deadline = None if timeout is None else time.monotonic() + timeout
        self._send(frame, deadline)
        results: list[bytes] = []
        while len(results) < messages:
            for message in self._results(call):
                outcome = self._outcome(message)
                if isinstance(outcome, RemoteError):
                    raise outcome
                results.append(outcome)
            if len(results) >= messages:
                break
            if not self._spin() and not self._sub.poll(_wait_ms(deadline)):
                raise TimeoutError(
                    f"no result from {self.server_name} within {timeout} s "
                    f"({len(results)} of {messages} received)"
                )
        return results[0] if messages == 1 else results

    def _spin(self) -> bool:
        """Watch for a result without sleeping, for a moment (an answer usually comes within
        a few hundred microseconds, and waking a sleeping process costs about as much)."""
        sub = self._sub
        assert sub is not None
        end = time.perf_counter() + SPIN_SECONDS
        while time.perf_counter() < end:
            if has_input(sub):
                return True
        return False

    def _send(self, frame: bytes, deadline: float | None) -> None:
        push = self._push
        assert push is not None
        while True:
            try:
                push.send(frame, zmq.NOBLOCK)
                return
            except zmq.Again:
                if not push.poll(_wait_ms(deadline), zmq.POLLOUT):
                    raise TimeoutError(f"{self.server_name} does not take messages") from None

    def job(
        self,
        function: Function,
        generator: Iterable[bytes],
        messages: int | None = None,
        cache: str = "",
        timeout: float | None = None,
    ) -> Iterator[bytes | RemoteError]:
        """Stream every payload of ``generator``; yield the results as they arrive.

        ``messages`` is how many results to wait for (default: one per payload sent). A
        message that failed yields a :class:`~pylm.errors.RemoteError` (its ``index`` is the
        position of the payload) and the job goes on. ``timeout`` bounds the wait for each
        next result: past it, ``TimeoutError``.
        """
        if self._push is None or self._sub is None:
            raise RuntimeError("the client is closed")
        text = _function_text(function)
        call = next(self._calls)
        payloads = iter(generator)
        push, sub = self._push, self._sub
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(push, zmq.POLLOUT)
        sending = True
        frame: bytes | None = None
        sent = received = 0
        expected = messages
        last = time.monotonic()
        while expected is None or received < expected:
            # Send what the server takes without blocking, then read what came back.
            while sending or frame is not None:
                if frame is None:
                    batch: list[bytes] = []
                    size = 0
                    while len(batch) < BATCH_MESSAGES and size < BATCH_BYTES:
                        try:
                            payload = next(payloads)
                        except StopIteration:
                            sending = False
                            break
                        batch.append(self._message(text, payload, cache, (call << 32) | sent))
                        size += len(batch[-1])
                        sent += 1
                    if not batch:
                        break
                    frame = batch[0] if len(batch) == 1 else wire.with_id(
                        wire.CLIENT_BATCH, self._ident, wire.pack(batch))
                try:
                    push.send(frame, zmq.NOBLOCK)
                except zmq.Again:
                    break
                frame = None
                if sub.poll(0):
                    break
            if not sending and frame is None and push in poller:
                poller.unregister(push)
            if not sending and expected is None:
                expected = sent
                if received >= expected:
                    break
            got = False
            for message in self._results(call):
                got = True
                received += 1
                yield self._outcome(message)
                if expected is not None and received >= expected:
                    return
            now = time.monotonic()
            if got:
                last = now
            wait = None if timeout is None else timeout - (now - last)
            if wait is not None and wait <= 0:
                raise TimeoutError(
                    f"no result from {self.server_name} within {timeout} s "
                    f"({received} received, {sent} sent)"
                )
            if not got:
                poller.poll(None if wait is None else max(1, int(wait * 1000)))

    # -- the server's cache -------------------------------------------------------------
    def set(self, value: bytes, key: str | None = None) -> str:
        """Store ``value`` in the server's cache; return its key (generated when none).

        With a ``session``, the key is prefixed by the session.
        """
        if not isinstance(value, bytes):
            raise TypeError(f"First argument {value!r} must be of type <bytes>")
        if key and self.session_set:
            key = self.pipeline + key
        return self.db.set(value, key or "")

    def get(self, key: str) -> bytes:
        """The value stored under ``key`` (empty bytes when absent)."""
        return self.db.get(key)

    def delete(self, key: str) -> str:
        """Remove ``key`` from the server's cache; return the key."""
        return self.db.delete(key)
