"""The gateway's small HTTP/1.1 server, in-process on a loopback socket."""

from __future__ import annotations

import asyncio

from pylm.parts.http_server import Answer, listening_socket, serve


async def exchange(raw: bytes, handler, max_body: int = 50) -> bytes:
    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    server = asyncio.ensure_future(serve(sock, handler, max_body, stop))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return data
    finally:
        stop.set()
        await asyncio.wait_for(server, 5)


def echo(method: str, path: str, body: bytes) -> Answer | asyncio.Future[Answer]:
    if path == "/later":
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, future.set_result, (200, [], b"late"))
        return future
    return 200, [(b"x-method", method.encode())], path.encode() + b":" + body


def test_pipelined_requests_are_answered_in_order() -> None:
    raw = (b"POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
           b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
    data = asyncio.run(exchange(raw, echo))
    first, second = data.split(b"HTTP/1.1 200 OK")[1:]
    assert first.endswith(b"\r\n\r\nlate")
    assert second.endswith(b"\r\n\r\n/b:hi") and b"connection: close" in second


def test_chunked_body() -> None:
    raw = (b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
           b"\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert asyncio.run(exchange(raw, echo)).endswith(b"\r\n\r\n/c:abcde")


def test_body_over_the_limit_is_refused_from_the_header() -> None:
    raw = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 51\r\n\r\n"
    data = asyncio.run(exchange(raw, echo))
    assert data.startswith(b"HTTP/1.1 413 ") and b"over the limit of 50" in data


def test_garbage_is_a_400() -> None:
    assert asyncio.run(exchange(b"\x00\x01\x02 nonsense\r\n\r\n", echo)).startswith(
        b"HTTP/1.1 400 "
    )


def test_a_failing_handler_is_a_500_without_details() -> None:
    def broken(method: str, path: str, body: bytes) -> Answer:
        raise RuntimeError("secret detail")

    raw = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    data = asyncio.run(exchange(raw, broken))
    assert data.startswith(b"HTTP/1.1 500 ") and b"secret" not in data
