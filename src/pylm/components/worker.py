"""``Worker`` and ``MuxWorker``: run a master's messages (spec §3).

A worker connects to its master's ``db_address``, discovers the master's worker addresses,
says hello with the number of messages it may hold (``prefetch``), then runs each message it
is given in order and sends the results back in batches. A thread beats a heartbeat so the
master knows the worker is alive even while a long function runs. On SIGTERM or Ctrl-C the
worker finishes the message it is running, sends what it has, says goodbye (the master
hands what it still held to other workers) and exits.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
import uuid
from collections import deque

import zmq

from pylm.components.execution import call_in_place, execute, user_functions
from pylm.discovery import CacheConnection
from pylm.lifecycle import StopSignal
from pylm.log import component_logger
from pylm.message import PalmMessage
from pylm.parts import wire
from pylm.parts.core import has_input, zmq_context

__all__ = ["Worker", "MuxWorker"]

#: Send results when this many wait, or when the oldest has waited FLUSH_DELAY seconds.
FLUSH_COUNT = 16
FLUSH_DELAY = 0.002


class Worker:
    """Runs the functions a master's messages name. Subclass it and add methods."""

    many = False

    def __init__(
        self,
        name: str = "",
        db_address: str = "",
        push_address: str | None = None,
        pull_address: str | None = None,
        log_level: int = logging.INFO,
        messages: int = sys.maxsize,
        *,
        prefetch: int = 32,
    ) -> None:
        self.name = name or str(uuid.uuid4())
        self.uuid = self.name
        self.db_address = db_address
        self.messages = messages
        self.prefetch = max(1, prefetch)
        self.logger = component_logger(self.name, log_level)
        self.db = CacheConnection(db_address, "_", self.name)
        self.heartbeat = 1.0
        self.handled = 0
        self._functions = user_functions(self, Worker)
        # Signals stop the worker cleanly from here on, also while it waits for its master.
        self._stop = StopSignal(self.logger)
        self._stop.install()
        self.push_address = push_address or self._discover("worker_pull_address")
        self.logger.info("Got worker push address: %s", self.push_address)
        self.pull_address = pull_address or self._discover("worker_push_address")
        self.logger.info("Got worker pull address: %s", self.pull_address)
        self.master = self._discover("name", required=False)
        interval = self._discover("heartbeat_interval", required=False)
        if interval:
            self.heartbeat = float(interval)

    def _discover(self, key: str, required: bool = True) -> str:
        while not self._stop.is_set:
            try:
                if required:
                    return self.db.address(key, timeout=2.0)
                return self.db.get(key, timeout=2.0).decode()
            except TimeoutError:
                self.logger.warning("Waiting for the master at %s", self.db_address)
        return ""

    # -- the cache of the master ---------------------------------------------------------
    def set(self, value: bytes, key: str | None = None) -> str:
        """Store ``value`` in the master's cache; return its key (a new one when none)."""
        return self.db.set(value, key or "")

    def get(self, key: str) -> bytes:
        """The value stored under ``key`` in the master's cache (empty bytes when absent)."""
        return self.db.get(key)

    def delete(self, key: str) -> str:
        """Remove ``key`` from the master's cache."""
        return self.db.delete(key)

    def echo(self, payload: bytes) -> bytes:
        """Return the payload unchanged."""
        return payload

    # -- running --------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the worker to stop after the message it is running (thread-safe)."""
        self._stop.set()

    def start(self) -> None:
        """Serve the master until stopped; returns with every socket closed."""
        if self._stop.is_set:
            self._stop.close()
            self.db.close()
            return
        jobs_socket = zmq_context.socket(zmq.DEALER)
        jobs_socket.setsockopt(zmq.IDENTITY, self.name.encode())
        jobs_socket.setsockopt(zmq.LINGER, 0)
        jobs_socket.connect(self.pull_address)
        results = zmq_context.socket(zmq.PUSH)
        results.setsockopt(zmq.LINGER, 2000)
        results.connect(self.push_address)
        beating = threading.Event()
        beat = threading.Thread(target=self._beat, args=(beating,), daemon=True)
        try:
            beat.start()
            self._serve(jobs_socket, results)
            results.send(wire.with_id(wire.BYE, self.name.encode()))
        finally:
            beating.set()
            beat.join(timeout=5)
            jobs_socket.close()
            results.close()
            self._stop.close()
            self.db.close()
        self.logger.info("Stopped")

    def _beat(self, stop: threading.Event) -> None:
        sock = zmq_context.socket(zmq.PUSH)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 10)
        sock.connect(self.push_address)
        frame = wire.with_id(wire.HEARTBEAT, self.name.encode())
        try:
            while not stop.wait(self.heartbeat / 2):
                with contextlib.suppress(zmq.Again):
                    sock.send(frame, zmq.NOBLOCK)
        finally:
            sock.close()

    def _serve(self, jobs_socket: zmq.Socket, results: zmq.Socket) -> None:
        poller = zmq.Poller()
        poller.register(jobs_socket, zmq.POLLIN)
        poller.register(self._stop.fileno(), zmq.POLLIN)
        ident = self.name.encode()
        queue: deque[tuple[int, bytes]] = deque()
        out: list[bytes] = []
        oldest = 0.0
        jobs_socket.send(wire.HELLO + str(self.prefetch).encode())
        while not self._stop.is_set:
            timeout = 0 if queue else None
            if out and not queue:
                timeout = max(0, int((oldest + FLUSH_DELAY - time.monotonic()) * 1000))
            for target, _ in poller.poll(timeout):
                if target is jobs_socket:
                    self._take(jobs_socket, queue)
                else:
                    self._stop.drain()
            if self._stop.is_set:
                break
            if queue:
                seq, data = queue.popleft()
                if not out:
                    oldest = time.monotonic()
                self._run(seq, data, out)
                self.handled += 1
                if self.handled >= self.messages:
                    self._stop.set()
            if out and (
                not queue or len(out) >= FLUSH_COUNT or time.monotonic() - oldest >= FLUSH_DELAY
            ):
                results.send(wire.with_id(wire.RESULTS, ident, wire.pack(out)))
                out = []
        if out:
            results.send(wire.with_id(wire.RESULTS, ident, wire.pack(out)))

    def _take(self, jobs_socket: zmq.Socket, queue: deque[tuple[int, bytes]]) -> None:
        while has_input(jobs_socket):
            frames = jobs_socket.recv_multipart(zmq.NOBLOCK)
            frame = frames[-1]
            head = frame[:2]
            if head == wire.JOBS:
                try:
                    items = wire.unpack(frame, 2)
                except wire.WireError as exc:
                    self.logger.error("Dropped a batch from the master: %s", exc)
                    continue
                size = wire.JOB_HEADER.size
                for item in items:
                    queue.append((wire.JOB_HEADER.unpack_from(item)[0], item[size:]))
            elif head == wire.RESYNC:
                # The master gave us up and requeued what we held: start afresh.
                queue.clear()
                self.logger.warning("The master lost track of this worker; joining again")
                jobs_socket.send(wire.HELLO + str(self.prefetch).encode())
            else:
                self.logger.error("Dropped an unexpected frame from the master")

    def _run(self, seq: int, data: bytes, out: list[bytes]) -> None:
        header = wire.RESULT_HEADER.pack
        message = PalmMessage()
        try:
            message.ParseFromString(data)
        except Exception:
            self.logger.error("Dropped a message that could not be decoded")
            out.append(header(seq, wire.DONE, 0))
            return
        if not self.many:
            result = call_in_place(self._functions, self.master, message, self.logger)
            if result is None:
                out.append(header(seq, wire.DONE, 0))
            else:
                out.append(header(seq, wire.FINAL, 0) + result.SerializeToString())
            return
        index = 0
        last: PalmMessage | None = None
        results = execute(self._functions, self.master, message, self.logger, many=True)
        for result, _failed in results:
            if result is None:
                continue
            if last is not None:
                out.append(header(seq, wire.PARTIAL, index) + last.SerializeToString())
                index += 1
            last = result
        if last is None:
            out.append(header(seq, wire.DONE, index))
        else:
            out.append(header(seq, wire.FINAL, index) + last.SerializeToString())


class MuxWorker(Worker):
    """A worker whose functions are generators: each yielded payload is one result."""

    many = True
