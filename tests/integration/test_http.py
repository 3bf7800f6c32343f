"""HTTP workers (pylm.remote) under real WSGI servers, HttpConnection, and the HTTP gateway."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pylm.clients import Client
from pylm.errors import RemoteError
from pylm.message import PalmMessage
from tests.conftest import Proc, Procs

HERE = Path(__file__).parent
COMPONENTS = str(HERE / "http_components.py")
CACHE = r"Cache listening on (tcp://\S+)"


def message(function: str, payload: bytes) -> bytes:
    return PalmMessage(function=function, payload=payload, client="c").SerializeToString()


def start_debug_server(procs: Procs) -> str:
    proc = procs.python(COMPONENTS, "debugserver", name="debugserver")
    return proc.wait_for(r"DebugServer listening on (http://\S+)").group(1)


def start_uvicorn_wsgi(procs: Procs) -> str:
    proc = procs.python("-m", "uvicorn", "--interface", "wsgi", "--host", "127.0.0.1",
                        "--port", "0", "--app-dir", str(HERE), "http_components:app",
                        name="uvicorn")
    return proc.wait_for(r"Uvicorn running on (http://127\.0\.0\.1:\d+)").group(1)


@pytest.fixture(params=["debugserver", "uvicorn-wsgi"])
def worker_url(request: pytest.FixtureRequest, procs: Procs) -> str:
    if request.param == "debugserver":
        return start_debug_server(procs)
    return start_uvicorn_wsgi(procs)


def test_http_worker_protocol(worker_url: str) -> None:
    with httpx.Client(base_url=worker_url, timeout=10) as http:
        answer = http.post("/", content=message("server.foo", b"data"))
        assert answer.status_code == 200
        result = PalmMessage.FromString(answer.content)
        assert result.payload == b"data processed online" and result.client == "c"
        refused = http.get("/")
        assert refused.status_code == 405 and refused.headers["allow"] == "POST"
        failed = http.post("/", content=message("server.fail", b"boom"))
        assert failed.status_code == 500
        assert failed.text == "fail raised ValueError: asked to fail on b'boom'"
        assert "Traceback" not in failed.text
        assert http.post("/", content=message("server.nothing", b"")).status_code == 404
        assert http.post("/", content=message("server.handle", b"")).status_code == 404
        assert http.post("/", content=b"\xff\xfe not a message").status_code == 400
        assert http.post("/", content=message("no-dot", b"")).status_code == 400
        assert http.post("/", content=message("server.drop", b"x")).status_code == 204


def start_http_server(procs: Procs, url: str, *args: str) -> str:
    proc = procs.python(COMPONENTS, "httpserver", url, *args, name="httpserver")
    return proc.wait_for(CACHE).group(1)


def test_http_connection_sends_each_message_to_the_worker(procs: Procs) -> None:
    url = start_uvicorn_wsgi(procs)
    db = start_http_server(procs, url)
    with Client("server", db) as client:
        payloads = [b"m%d" % i for i in range(300)]
        results = list(client.job("server.foo", payloads, timeout=20))
        assert sorted(results) == sorted(p + b" processed online" for p in payloads)
        mixed = list(client.job("server.fail", [b"a", b"b"], timeout=20))
        assert all(isinstance(r, RemoteError) for r in mixed)
        assert {r.index for r in mixed} == {0, 1}  # type: ignore[union-attr]
        assert "answered 500: fail raised ValueError" in mixed[0].reason  # type: ignore[union-attr]
        # A function returning None drops the message; the next call is answered.
        assert list(client.job("server.drop", [b"x"], messages=0, timeout=5)) == []
        assert client.eval("server.foo", b"next", timeout=10) == b"next processed online"


def test_http_connection_times_out_a_slow_worker(procs: Procs) -> None:
    url = start_uvicorn_wsgi(procs)
    db = start_http_server(procs, url, "--timeout", "0.5")
    with Client("server", db) as client:
        with pytest.raises(RemoteError, match="ReadTimeout"):
            client.eval("server.sleepy", b"3", timeout=20)
        assert client.eval("server.sleepy", b"0", timeout=20) == b"woke up"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_http_connection_to_a_worker_that_is_down(procs: Procs) -> None:
    # A port nobody listens on (bound then released: nothing will listen there).
    db = start_http_server(procs, f"http://127.0.0.1:{free_port()}")
    with Client("server", db) as client, pytest.raises(RemoteError, match="ConnectError"):
        client.eval("server.foo", b"x", timeout=20)


@dataclass
class Gateway:
    proc: Proc
    db: str
    url: str
    workers: list[Proc]


def start_gateway(procs: Procs, workers: int = 2, *args: str) -> Gateway:
    proc = procs.python(COMPONENTS, "gateway", "gw", *args, name="gateway")
    db = proc.wait_for(CACHE).group(1)
    url = proc.wait_for(r"HttpGateway listening on (http://\S+)").group(1)
    started = [procs.python(COMPONENTS, "worker", db, name=f"worker{i}") for i in range(workers)]
    for worker in started:
        worker.wait_for("Got worker pull address")
    return Gateway(proc, db, url, started)


def test_gateway_calls_the_workers(procs: Procs) -> None:
    gateway = start_gateway(procs, 2, "--max-body", "1000")
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        answer = http.post("/foo", content=b"abc")
        assert answer.status_code == 200 and answer.content == b"foo:abc"
        assert http.get("/echo").content == b""  # GET: an empty payload, as the original
        # Keep-alive: many requests on the connection the client keeps.
        for i in range(20):
            assert http.post("/echo", content=b"%d" % i).content == b"%d" % i
        failed = http.post("/fail", content=b"x")
        assert failed.status_code == 500
        assert failed.text == "fail raised RuntimeError: this function always fails\n"
        missing = http.post("/nope", content=b"x")
        assert missing.status_code == 404 and "nope" in missing.text
        assert http.post("/gw.foo", content=b"dotted").content == b"foo:dotted"  # original form
        assert http.post("/foo/", content=b"slash").content == b"foo:slash"
        assert http.post("/a.b.c", content=b"x").status_code == 404
        assert http.post("/foo/bar", content=b"x").status_code == 404
        assert http.post("/", content=b"x").status_code == 404
        assert http.post("/set", content=b"x").status_code == 404  # framework methods
        refused = http.put("/foo", content=b"x")
        assert refused.status_code == 405 and "POST" in refused.headers["allow"]
        too_large = http.post("/foo", content=b"x" * 1001)
        assert too_large.status_code == 413 and "1000" in too_large.text

        def chunks():
            for _ in range(11):
                yield b"y" * 100

        assert http.post("/foo", content=chunks()).status_code == 413  # chunked, no length
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        assert http.post("/foo", content=b"x" * 1000).status_code == 200  # at the limit


def test_gateway_answers_400_to_a_request_that_is_not_http(procs: Procs) -> None:
    gateway = start_gateway(procs, 0)
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert gateway.proc.popen.poll() is None


def test_gateway_without_workers_times_out_with_504(procs: Procs) -> None:
    gateway = start_gateway(procs, 0, "--timeout", "1")
    answer = httpx.post(gateway.url + "/foo", content=b"x", timeout=10)
    assert answer.status_code == 504 and "no answer within 1 s" in answer.text


async def many_clients(url: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        return await asyncio.gather(
            *(http.post("/slow", content=b"%d" % i) for i in range(count))
        )


def test_gateway_serves_200_concurrent_connections_with_slow_workers(procs: Procs) -> None:
    gateway = start_gateway(procs, 2)
    answers = asyncio.run(many_clients(gateway.url, 200))
    assert [a.status_code for a in answers] == [200] * 200
    assert [a.content for a in answers] == [b"slow:%d" % i for i in range(200)]
    assert httpx.post(gateway.url + "/foo", content=b"after", timeout=10).content == b"foo:after"
    assert "Traceback" not in gateway.proc.stdout + gateway.proc.stderr


def test_gateway_refuses_a_port_in_use(procs: Procs) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = procs.python("-c", (
            "from pylm.parts.gateways import HttpGateway\n"
            "from pylm.parts.servers import ServerTemplate\n"
            "s = ServerTemplate(name='x')\n"
            "s.register_bypass(HttpGateway, 'HttpGateway', 'inproc://g',\n"
            f"                  hostname='127.0.0.1', port={port})\n"
            "s.start()\n"), name="taken")
        assert proc.wait(timeout=20) != 0
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
