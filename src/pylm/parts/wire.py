"""Control frames and batches: this implementation's protocol around the PALM message.

A *control frame* starts with a NUL byte, which no serialized PalmMessage does (field number
0 does not exist), so a part can always tell control frames from plain messages.

**Batches.** Many messages travel in one frame: ``pack(items)`` is each item preceded by its
length (4 bytes, big-endian). One frame instead of one per message is what lets a component
move tens of thousands of messages per second from Python.

Every control message is ONE frame (each extra frame costs a call into ZeroMQ): a NUL, a
kind byte, then the body.

**Clients.** A plain PALM client (pylm 0.14) pushes one serialized PalmMessage per ZeroMQ
message and receives ``[topic, message]``; that never changes. Our client pushes
``CLIENT_BATCH + id + pack(messages)`` (``id``: its client id, length-prefixed as below), all
of them from that client with ``batched`` set, so a master can queue them for its workers
without decoding each one (the workers check them); results for such a client
are published as ``[topic, BATCH + pack(messages)]`` (or plainly when there is just one).

**Streams.** A message published down a pipeline goes as ``[topic, BATCH + pack(...)]``
only when every subscriber of that topic reads batches: our ``SubConnection`` announces it
by also subscribing to ``NUL B`` + topic (``subscriptions.BATCH_READER``), and the XPUB
counts subscribers. A plain PALM subscriber (pylm 0.14) on the topic, or any subscription
to a shorter prefix of it, makes the publisher send plain ``[topic, message]`` again.

**Workers.** Worker DEALER (identity = worker id) <-> master ROUTER at
``worker_push_address`` (the ROUTER adds and strips the identity frame)::

    worker -> master   HELLO + credit          credit: ASCII int, jobs it may hold
    master -> worker   JOBS + pack(seq(8) + message, ...)
    master -> worker   RESYNC                  "I do not know you": say HELLO again

Worker PUSH -> master PULL at ``worker_pull_address``; ``id`` is the worker id preceded by
its length (2 bytes)::

    RESULTS + id + pack(seq(8) + kind(1) + index(4) + message, ...)
    HEARTBEAT + id                             sent by a thread every interval
    BYE + id                                   clean exit: requeue what I held

Result kinds: ``FINAL`` (the job's last result), ``PARTIAL`` (more follow, from a worker that
yields several) and ``DONE`` (the job ended with nothing further; the message is empty). A
failed function is a ``FINAL`` result whose message has ``error`` set. A plain
PalmMessage on the master's PULL socket is routed as is.
"""

from __future__ import annotations

import struct

__all__ = [
    "BATCH", "CLIENT_BATCH", "HELLO", "JOBS", "RESYNC", "RESULTS", "HEARTBEAT", "BYE",
    "FINAL", "PARTIAL", "DONE", "pack", "unpack", "with_id", "split_id", "WireError",
    "JOB_HEADER", "RESULT_HEADER",
]

BATCH = b"\x00B"
CLIENT_BATCH = b"\x00C"
HELLO = b"\x00H"
JOBS = b"\x00J"
RESYNC = b"\x00S"
RESULTS = b"\x00R"
HEARTBEAT = b"\x00T"
BYE = b"\x00Y"

FINAL = b"F"
PARTIAL = b"P"
DONE = b"D"

JOB_HEADER = struct.Struct(">Q")
RESULT_HEADER = struct.Struct(">QcI")
_LENGTH = struct.Struct(">I")
_ID = struct.Struct(">H")


class WireError(ValueError):
    """A batch or control frame that does not follow the protocol."""


def pack(items: list[bytes]) -> bytes:
    """Join ``items`` into one frame, each preceded by its length."""
    length = _LENGTH.pack
    return b"".join([part for item in items for part in (length(len(item)), item)])


def with_id(kind: bytes, ident: bytes, body: bytes = b"") -> bytes:
    """A worker's control frame: ``kind``, the worker id (length-prefixed), then ``body``."""
    return kind + _ID.pack(len(ident)) + ident + body


def split_id(frame: bytes) -> tuple[bytes, int]:
    """The worker id of a frame made by :func:`with_id`, and where its body starts."""
    if len(frame) < 4:
        raise WireError("control frame too short for a worker id")
    (size,) = _ID.unpack_from(frame, 2)
    if 4 + size > len(frame):
        raise WireError("control frame: the worker id is cut short")
    return frame[4:4 + size], 4 + size


def unpack(frame: bytes, offset: int = 0) -> list[bytes]:
    """Split a frame made by :func:`pack` (from ``offset``); raise :class:`WireError` if it
    is not one."""
    items: list[bytes] = []
    view = memoryview(frame)
    end = len(frame)
    unpack_length = _LENGTH.unpack_from
    while offset < end:
        if offset + 4 > end:
            raise WireError("truncated batch: a length is cut short")
        (size,) = unpack_length(view, offset)
        offset += 4
        if offset + size > end:
            raise WireError(f"truncated batch: an item of {size} bytes is cut short")
        items.append(bytes(view[offset:offset + size]))
        offset += size
    return items
