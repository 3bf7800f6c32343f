"""Component output: bytes from a pipe cut into lines, and the echo on the runner's stdout.

``LineSplitter`` is pure: it takes the chunks one pipe delivers and returns whole lines
(decoded as UTF-8, bad bytes replaced, ``\\r\\n`` and ``\\n`` endings removed). A line longer
than ``max_line`` bytes is cut into several lines so that one endless line cannot exhaust
memory. ``Echo`` copies lines to the runner's stdout from its own thread with a bounded
queue, so a slow terminal or an unread pipe never slows the components down: when the
queue is full, echo lines are skipped and counted (the spool, not the echo, is the record).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from typing import BinaryIO, Protocol

__all__ = ["MAX_LINE_BYTES", "Echo", "LineSink", "LineSplitter", "Stream"]

MAX_LINE_BYTES = 64 * 1024
_ECHO_QUEUE_CHUNKS = 4096


class Stream:
    """The stream labels of a line (the ``stream`` field of docs/runner-protocol.md)."""

    STDOUT = "stdout"
    STDERR = "stderr"


class LineSink(Protocol):
    """Where the lines of one instance go."""

    def lines(self, instance: str, stream: str, when: float, texts: list[str]) -> None:
        """Take ``texts``, read from ``stream`` of ``instance`` at time ``when``."""


class LineSplitter:
    """Cut the chunks read from one pipe into lines."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        if max_line < 4:
            raise ValueError("max_line must be at least 4 bytes")
        self._max_line = max_line
        self._partial = b""

    def feed(self, data: bytes) -> list[str]:
        """The lines completed by ``data``; an unfinished line is kept for later."""
        buffer = self._partial + data if self._partial else data
        end = buffer.rfind(b"\n")
        if end < 0:
            self._partial = buffer
            return self._cut_long_partial()
        self._partial = buffer[end + 1 :]
        decoded = buffer[:end].decode("utf-8", "replace")
        texts = decoded.split("\n")
        if "\r" in decoded:
            texts = [text[:-1] if text.endswith("\r") else text for text in texts]
        if max(map(len, texts)) > self._max_line // 4:
            texts = self._cut_texts(texts)
        return texts + self._cut_long_partial()

    def flush(self) -> list[str]:
        """The unfinished line, if any, as a last line (the pipe is closed)."""
        if not self._partial:
            return []
        rest, self._partial = self._partial, b""
        text = rest.decode("utf-8", "replace")
        return self._cut_texts([text[:-1] if text.endswith("\r") else text])

    def _cut_long_partial(self) -> list[str]:
        texts: list[str] = []
        while len(self._partial) > self._max_line:
            cut = self._max_line
            while cut > 0 and self._partial[cut] & 0xC0 == 0x80:  # inside a UTF-8 character
                cut -= 1
            texts.append(self._partial[:cut].decode("utf-8", "replace"))
            self._partial = self._partial[cut:]
        return texts

    def _cut_texts(self, texts: list[str]) -> list[str]:
        result: list[str] = []
        for text in texts:
            encoded = text.encode("utf-8")
            if len(encoded) <= self._max_line:
                result.append(text)
                continue
            splitter = LineSplitter(self._max_line)
            result.extend(splitter.feed(encoded))
            result.extend(splitter.flush())
        return result


class Echo:
    """Write labelled lines to a binary stream from a background thread, never blocking."""

    def __init__(self, stream: BinaryIO | None, max_chunks: int = _ECHO_QUEUE_CHUNKS) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_chunks)
        self._skipped = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._fd = stream.fileno() if stream is not None else None
        if self._fd is not None:
            self._thread = threading.Thread(target=self._write_loop, name="echo", daemon=True)
            self._thread.start()

    def write(self, prefix: str, texts: list[str]) -> None:
        """Queue ``texts``, each behind ``prefix``; skipped (and counted) if the queue is full."""
        if self._fd is None:
            return
        chunk = "".join(f"{prefix}{text}\n" for text in texts).encode("utf-8", "replace")
        try:
            self._queue.put_nowait(chunk)
        except queue.Full:
            with self._lock:
                self._skipped += len(texts)

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (waiting at most ``timeout`` seconds) and stop the thread."""
        if self._thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)
        self._thread = None

    def _write_loop(self) -> None:
        assert self._fd is not None
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            with self._lock:
                skipped, self._skipped = self._skipped, 0
            if skipped:
                note = f"[pylm-runner] {skipped} lines not echoed: stdout is too slow\n"
                chunk = note.encode() + chunk
            try:
                _write_all(self._fd, chunk)
            except OSError:
                return  # stdout is gone (closed pipe); the spool still has every line


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
