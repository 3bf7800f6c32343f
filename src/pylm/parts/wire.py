"""The control frames between a master and its workers (this implementation's protocol).

Clients and servers exchange plain serialized PalmMessages (spec §2). Between a master and
its workers, messages travel in envelopes that let the master know which worker holds what.
A control frame starts with a NUL byte, which no serialized PalmMessage does (field number 0
does not exist), so a part can tell control frames from plain messages.

Worker DEALER (identity = worker id) <-> master ROUTER at ``worker_push_address``::

    worker -> master   [HELLO, credit]            credit: ASCII int, jobs it may hold
    master -> worker   [JOBS, hdr, msg, hdr, msg, ...]   hdr = seq (8 bytes, big-endian)
    master -> worker   [RESYNC]                   "I do not know you": say HELLO again

Worker PUSH -> master PULL at ``worker_pull_address``::

    [RESULTS, worker_id, hdr, msg, hdr, msg, ...]  hdr = seq (8) + kind (1) + index (4)
    [HEARTBEAT, worker_id]                          sent by a thread every interval
    [BYE, worker_id]                                clean exit: requeue what I held

Result kinds: ``FINAL`` (the job's last result), ``PARTIAL`` (more results follow, from a
worker that yields several) and ``DONE`` (the job ended with no further result; ``msg`` is
empty). A worker reports a failed function as a ``FINAL`` result whose message has ``error``
set. A plain single-frame PalmMessage on the master's PULL socket is routed as is.
"""

from __future__ import annotations

import struct

__all__ = [
    "HELLO", "JOBS", "RESYNC", "RESULTS", "HEARTBEAT", "BYE",
    "FINAL", "PARTIAL", "DONE", "job_header", "parse_job_header",
    "result_header", "parse_result_header",
]

HELLO = b"\x00HELLO"
JOBS = b"\x00JOBS"
RESYNC = b"\x00RESYNC"
RESULTS = b"\x00RESULTS"
HEARTBEAT = b"\x00HEARTBEAT"
BYE = b"\x00BYE"

FINAL = b"F"
PARTIAL = b"P"
DONE = b"D"

_JOB = struct.Struct(">Q")
_RESULT = struct.Struct(">QcI")

job_header = _JOB.pack


def parse_job_header(data: bytes) -> int:
    return _JOB.unpack(data)[0]


def result_header(seq: int, kind: bytes, index: int) -> bytes:
    return _RESULT.pack(seq, kind, index)


def parse_result_header(data: bytes) -> tuple[int, bytes, int]:
    seq, kind, index = _RESULT.unpack(data)
    return seq, kind, index
