"""Connections: parts that *connect* their outward socket to someone else's service (spec §4).

``SubConnection`` subscribes to an upstream publisher (the ``previous`` server's topic),
``PullConnection`` and ``RepConnection`` take messages in, ``PushConnection`` sends them out,
``HttpConnection`` (in :mod:`pylm.parts.http_connection`) sends them to an HTTP worker.
"""

from __future__ import annotations

import zmq

from pylm.parts.http_connection import HttpConnection
from pylm.parts.services import PushService, RepService, _Checked, own_name
from pylm.parts.subscriptions import BATCH_READER

__all__ = [
    "SubConnection", "PullConnection", "PushConnection", "RepConnection", "HttpConnection",
]


class SubConnection(_Checked):
    """Connects a SUB socket to ``listen_address`` and subscribes to the topic ``previous``.

    Messages arrive as ``[topic, message]`` (or, from our publishers, ``[topic, batch]``,
    see :mod:`pylm.parts.wire`); each goes to ``route``.
    """

    def __init__(self, name: str, listen_address: str, previous: str = "", **kw: object):
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.previous = previous

    def open(self, context: zmq.Context) -> None:
        self.server = self.server or own_name(self)
        self.socket = self.make_socket(context, zmq.SUB)
        self.socket.setsockopt(zmq.SUBSCRIBE, self.previous.encode())
        # Tell our publishers that this subscriber reads batches (see subscriptions.py).
        self.socket.setsockopt(zmq.SUBSCRIBE, BATCH_READER + self.previous.encode())
        self.connect(self.socket)


class PullConnection(_Checked):
    """Connects a PULL socket to a PUSH service; each message goes to ``route``."""

    def open(self, context: zmq.Context) -> None:
        self.server = self.server or own_name(self)
        self.socket = self.make_socket(context, zmq.PULL)
        self.connect(self.socket)


class RepConnection(RepService):
    """Connects a REP socket to a REQ/DEALER peer; answers as :class:`RepService` does."""

    def open(self, context: zmq.Context) -> None:
        self.server = self.server or own_name(self)
        self.socket = self.make_socket(context, zmq.REP)
        self.connect(self.socket)


class PushConnection(PushService):
    """Connects a PUSH socket to a PULL service and sends every message it gets."""

    connects = True
    describes = ""
