"""Talking to a server's cache service: discovery of its addresses, and set/get/delete.

Clients and workers only need a server's ``db_address``: its cache holds the server's name
and the addresses of its other sockets (spec §2). Every call has a timeout; a server that
does not answer raises ``TimeoutError`` instead of hanging.
"""

from __future__ import annotations

import uuid

import zmq

from pylm.errors import WrongServerError
from pylm.parts.core import zmq_context
from pylm.proto.palm_pb2 import PalmMessage

__all__ = ["CacheConnection"]


class CacheConnection:
    """A REQ connection to a server's cache service.

    ``caller`` is the server name put in front of each call (``_`` for a worker).
    """

    def __init__(self, db_address: str, caller: str, client_id: str = "") -> None:
        self.db_address = db_address
        self.caller = caller
        self.client_id = client_id or str(uuid.uuid4())
        self._socket = zmq_context.socket(zmq.REQ)
        # A request that timed out must not wedge the socket: allow a new one, and match
        # answers to requests so a late answer is never taken for the next one.
        self._socket.setsockopt(zmq.REQ_RELAXED, 1)
        self._socket.setsockopt(zmq.REQ_CORRELATE, 1)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(db_address)

    def close(self) -> None:
        self._socket.close(linger=0)

    def call(self, verb: str, payload: bytes, key: str = "", timeout: float | None = 10.0) -> bytes:
        message = PalmMessage()
        message.pipeline = str(uuid.uuid4())
        message.client = self.client_id
        message.function = f"{self.caller}.{verb}"
        message.payload = payload
        if key:
            message.cache = key
        self._socket.send(message.SerializeToString())
        if not self._socket.poll(None if timeout is None else int(timeout * 1000)):
            raise TimeoutError(
                f"the cache service at {self.db_address} did not answer within {timeout} s"
            )
        return self._socket.recv()

    def set(self, value: bytes, key: str = "", timeout: float | None = 10.0) -> str:
        if not isinstance(value, bytes):
            raise TypeError(f"cache values must be bytes, not {type(value).__name__}")
        return self.call("set", value, key, timeout).decode()

    def get(self, key: str, timeout: float | None = 10.0) -> bytes:
        return self.call("get", key.encode(), timeout=timeout)

    def delete(self, key: str, timeout: float | None = 10.0) -> str:
        return self.call("delete", key.encode(), timeout=timeout).decode()

    def expect_server(self, name: str, timeout: float | None = 10.0) -> None:
        """Check that the server behind ``db_address`` is ``name``."""
        found = self.get("name", timeout).decode(errors="replace")
        if found != name:
            raise WrongServerError(
                f"{self.db_address} is server {found!r}, not {name!r}"
                if found else f"{self.db_address} did not say its name (not a PALM server?)"
            )

    def address(self, key: str, timeout: float | None = 10.0) -> str:
        value = self.get(key, timeout).decode(errors="replace")
        if not value:
            raise WrongServerError(f"the server at {self.db_address} does not publish {key!r}")
        return value
