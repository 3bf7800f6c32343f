"""Drive a running PALM cluster with a pylm ``Client`` and print one ``RESULT {json}`` line.

Runs under either project's interpreter (``--side`` says which, because the two
clients bound their waits differently):

- ``ours``: ``Client.eval/job(..., timeout=...)`` raise ``TimeoutError``;
- ``original``: pylm 0.14.4 has no timeout, so every socket it creates gets a
  default receive timeout from the shared ZeroMQ context (``zmq.Again`` when it
  expires). This bounds every wait without changing the original client.

Modes: ``job`` (stream N payloads through ``Client.job``, also used for pipelines
with ``--function a.echo --function b.echo ...``) and ``eval`` (N round trips with
one persistent client). Each payload carries its index, so lost, duplicated and
wrong results are counted rather than hanging or passing unnoticed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator

import zmq

OURS = "ours"
ORIGINAL = "original"
LOST_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, zmq.Again)
INDEX_DIGITS = 9


def make_payload(marker: bytes, index: int, size: int) -> bytes:
    """``size`` bytes: a one-byte marker, the index, then filler."""
    head = marker + b"%0*d" % (INDEX_DIGITS, index)
    return head + b"x" * max(0, size - len(head))


def payload_index(marker: bytes, payload: bytes) -> int | None:
    if payload[:1] != marker:
        return None
    try:
        return int(payload[1 : 1 + INDEX_DIGITS])
    except ValueError:
        return None


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Waits:
    """How long each side may wait for one reply, applied the way that side supports."""

    def __init__(self, side: str) -> None:
        self.side = side
        if side == ORIGINAL:
            zmq.Context.instance().setsockopt(zmq.LINGER, 0)

    def limit(self, seconds: float) -> dict[str, float]:
        """Keyword arguments for eval/job; for the original, set the context default."""
        if self.side == OURS:
            return {"timeout": seconds}
        context = zmq.Context.instance()
        context.setsockopt(zmq.RCVTIMEO, int(seconds * 1000))
        return {}


def make_client(args: argparse.Namespace, waits: Waits):
    from pylm.clients import Client

    waits.limit(args.reply_timeout)  # bounds the original's configuration fetch
    return Client(args.name, args.db, sub_address=args.sub, logging_level=logging.WARNING)


def function_arg(args: argparse.Namespace) -> str | list[str]:
    return args.function[0] if len(args.function) == 1 else list(args.function)


def stream(
    client, waits: Waits, function, marker: bytes, count: int, size: int, wait: float
) -> dict:
    """Send ``count`` payloads with ``Client.job`` and account for every result."""
    seen = bytearray(count)
    ok = duplicates = wrong = strays = errors = 0
    timed_out = False
    payloads: Iterator[bytes] = (make_payload(marker, i, size) for i in range(count))
    started = last = time.perf_counter()
    results = client.job(function, payloads, messages=count, **waits.limit(wait))
    try:
        for result in results:
            last = time.perf_counter()
            if not isinstance(result, bytes):  # ours yields an error object for a failure
                errors += 1
                continue
            index = payload_index(marker, result)
            if index is None:
                strays += 1
            elif index >= count or result != make_payload(marker, index, size):
                wrong += 1
            elif seen[index]:
                duplicates += 1
            else:
                seen[index] = 1
                ok += 1
    except LOST_ERRORS:
        timed_out = True
    elapsed = last - started
    return {
        "sent": count,
        "ok": ok,
        "lost": count - ok,
        "duplicates": duplicates,
        "wrong": wrong,
        "strays": strays,
        "errors": errors,
        "timed_out": timed_out,
        "elapsed_s": elapsed,
        "rate": ok / elapsed if elapsed > 0 and ok else 0.0,
    }


def round_trips(
    call: Callable[[bytes], bytes], marker: bytes, count: int, size: int
) -> dict:
    """``count`` sequential evals; latencies of the correct ones, the rest counted."""
    latencies: list[float] = []
    lost = wrong = 0
    for i in range(count):
        payload = make_payload(marker, i, size)
        started = time.perf_counter()
        try:
            result = call(payload)
        except LOST_ERRORS:
            lost += 1
            continue
        elapsed = time.perf_counter() - started
        if result == payload:
            latencies.append(elapsed)
        else:
            wrong += 1
    latencies.sort()
    return {
        "sent": count,
        "ok": len(latencies),
        "lost": lost,
        "wrong": wrong,
        "p50_us": _us(percentile(latencies, 0.50)),
        "p99_us": _us(percentile(latencies, 0.99)),
        "mean_us": _us(sum(latencies) / len(latencies) if latencies else None),
    }


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e6


def run_job(args: argparse.Namespace) -> dict:
    waits = Waits(args.side)
    client = make_client(args, waits)
    function = function_arg(args)
    warmup = stream(client, waits, function, b"w", args.warmup, args.size, args.warmup_timeout)
    measured = stream(client, waits, function, b"m", args.count, args.size, args.reply_timeout)
    return {"warmup": warmup, **measured}


def run_eval(args: argparse.Namespace) -> dict:
    waits = Waits(args.side)
    client = make_client(args, waits)
    function = function_arg(args)

    def call_with(wait: float) -> Callable[[bytes], bytes]:
        extra = waits.limit(wait)
        return lambda payload: client.eval(function, payload, **extra)

    warmup = round_trips(call_with(args.warmup_timeout), b"w", args.warmup, args.size)
    measured = round_trips(call_with(args.reply_timeout), b"m", args.count, args.size)
    return {"warmup": warmup, **measured}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["job", "eval"])
    parser.add_argument("--side", choices=[OURS, ORIGINAL], required=True)
    parser.add_argument("--name", required=True, help="server name the client expects")
    parser.add_argument("--db", required=True, help="db_address of that server")
    parser.add_argument("--sub", default=None, help="explicit sub address (pipelines)")
    parser.add_argument("--function", action="append", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--reply-timeout", type=float, default=10.0,
                        help="longest wait for one reply, seconds")
    parser.add_argument("--warmup-timeout", type=float, default=2.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    run = run_job if args.mode == "job" else run_eval
    result = run(args)
    print("RESULT " + json.dumps(result), flush=True)
    sys.stderr.flush()
    # The original's job() leaves a non-daemon sender thread and unclosed sockets
    # behind; leave without waiting for them (the result is already out).
    os._exit(0)


if __name__ == "__main__":
    main()
