"""HTTP load generator: C concurrent clients, each opening a new connection per POST.

Prints one ``RESULT {json}`` line: requests/s over the correct answers, p50/p99
latency, and the failures (wrong status or body, refused, timed out). Every request
has a timeout; the whole run has a deadline. Uses uvloop when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

INDEX_DIGITS = 9


def make_body(index: int, size: int) -> bytes:
    head = b"h%0*d" % (INDEX_DIGITS, index)
    return head + b"x" * max(0, size - len(head))


def build_request(path: str, host: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _dechunk(data: bytes) -> bytes:
    body = bytearray()
    while True:
        line, _, rest = data.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return bytes(body)
        body += rest[:size]
        data = rest[size + 2 :]


def parse_response(raw: bytes) -> tuple[int, bytes]:
    """Status code and body of a complete HTTP/1.x response read until EOF."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        raise ValueError("incomplete HTTP response")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = _dechunk(body)
    elif b"content-length" in headers:
        body = body[: int(headers[b"content-length"])]
    return status, body


class _Exchange(asyncio.Protocol):
    """One request on a fresh connection; the answer is everything read until EOF."""

    def __init__(self, request: bytes, answer: asyncio.Future[bytes]) -> None:
        self.request = request
        self.answer = answer
        self.received = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer.done():
            return
        if exc is not None and not self.received:
            self.answer.set_exception(exc)
        else:
            self.answer.set_result(bytes(self.received))


async def one_request(host: str, port: int, path: str, body: bytes) -> tuple[int, bytes]:
    """POST ``body`` on a new connection (a Protocol, not streams: less CPU per request,
    which matters when the load generator shares two cores with what it measures)."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    request = build_request(path, f"{host}:{port}", body)
    transport, _ = await loop.create_connection(lambda: _Exchange(request, answer), host, port)
    try:
        raw = await answer
    finally:
        transport.close()
    return parse_response(raw)


async def run_load(args: argparse.Namespace) -> dict:
    latencies: list[float] = []
    failures: dict[str, int] = {}
    next_index = 0

    def fail(kind: str) -> None:
        failures[kind] = failures.get(kind, 0) + 1

    async def client() -> None:
        nonlocal next_index
        while next_index < args.count:
            index = next_index
            next_index += 1
            body = make_body(index, args.size)
            started = time.perf_counter()
            try:
                status, answer = await asyncio.wait_for(
                    one_request(args.host, args.port, args.path, body), args.request_timeout
                )
            except TimeoutError:
                fail("timeout")
                continue
            except (OSError, ValueError, IndexError) as error:
                fail(type(error).__name__)
                continue
            elapsed = time.perf_counter() - started
            if status != 200:
                fail(f"status {status}")
            elif answer != body:
                fail("wrong body")
            else:
                latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(client() for _ in range(args.concurrency))), args.deadline
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    ok = len(latencies)

    def pct(fraction: float) -> float | None:
        if not latencies:
            return None
        rank = max(1, round(fraction * ok + 0.5))
        return latencies[min(rank, ok) - 1] * 1000

    return {
        "sent": args.count,
        "ok": ok,
        "failed": sum(failures.values()),
        "failures": failures,
        "elapsed_s": elapsed,
        "rate": ok / elapsed if elapsed > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/echo")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--request-timeout", type=float, default=10.0)
    parser.add_argument("--deadline", type=float, default=300.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run_load(args))
    else:
        result = uvloop.run(run_load(args))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
