"""Readiness probe: ask a PALM cache service for its ``name`` without importing pylm.

The request is a PalmMessage (spec §1) encoded by hand (``function`` is field 4 and
``payload`` field 6, both length-delimited), so the probe runs unchanged in either
interpreter and in the orchestrator, whatever protobuf version each one has.
"""

from __future__ import annotations

import time

import zmq

_LENGTH_DELIMITED = 2
_FIELD_FUNCTION = 4
_FIELD_PAYLOAD = 6


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(data)) + data


def cache_get_request(server: str, key: str) -> bytes:
    """Serialized PalmMessage asking the cache of ``server`` for ``key``."""
    return _field(_FIELD_FUNCTION, f"{server}.get".encode()) + _field(
        _FIELD_PAYLOAD, key.encode()
    )


def wait_for_cache(db_address: str, server: str, deadline: float) -> bytes:
    """Poll ``db_address`` until it answers ``get('name')``; return the answer.

    Every attempt uses a fresh REQ socket (a REQ that got no answer cannot send
    again) closed with linger 0. Raises TimeoutError when ``deadline``
    (a ``time.monotonic()`` value) passes first.
    """
    context = zmq.Context.instance()
    request = cache_get_request(server, "name")
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no answer from the cache at {db_address}")
        socket = context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        try:
            socket.connect(db_address)
            socket.send(request)
            if socket.poll(int(min(remaining, 0.5) * 1000), zmq.POLLIN):
                return socket.recv()
        finally:
            socket.close()
