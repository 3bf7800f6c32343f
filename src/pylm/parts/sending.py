"""Sending without blocking the router: a socket plus a backlog that drains when it can.

Sockets facing the outside are written with ``NOBLOCK``. When ZeroMQ answers that the peer's
queue is full, the frames wait in an ordered backlog, the part stops ``accepting()`` (so the
router stops feeding it, and back-pressure travels upstream), and a short timer retries.
"""

from __future__ import annotations

from collections import deque

import zmq

from pylm.parts.core import Part

__all__ = ["Backlog"]

RETRY_DELAY = 0.001


class Backlog:
    """Ordered, non-blocking writes to one socket on behalf of a part."""

    def __init__(self, part: Part, limit: int = 64) -> None:
        self.part = part
        self.limit = limit
        self.socket: zmq.Socket | None = None
        self._frames: deque[list[bytes]] = deque()
        self._retrying = False

    def __len__(self) -> int:
        return len(self._frames)

    def accepting(self) -> bool:
        return len(self._frames) < self.limit

    def send(self, frames: list[bytes]) -> None:
        if self._frames:
            self._frames.append(frames)
            return
        try:
            self.socket.send_multipart(frames, zmq.NOBLOCK, copy=len(frames[-1]) < 65536)  # type: ignore[union-attr]
        except zmq.Again:
            self._frames.append(frames)
            self._schedule()

    def flush(self) -> None:
        self._retrying = False
        frames = self._frames
        sock = self.socket
        assert sock is not None
        while frames:
            try:
                sock.send_multipart(frames[0], zmq.NOBLOCK)
            except zmq.Again:
                self._schedule()
                return
            frames.popleft()

    def _schedule(self) -> None:
        if not self._retrying and self.part.router is not None:
            self._retrying = True
            self.part.router.call_later(RETRY_DELAY, self.flush)
