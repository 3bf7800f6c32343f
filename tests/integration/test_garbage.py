"""Garbage on every socket of a master is logged and dropped, or answered with an error."""

from __future__ import annotations

import os

import pytest
import zmq

from pylm.errors import RemoteError
from pylm.message import PalmMessage
from pylm.parts import wire

from .conftest import Cluster


def palm(function: str, payload: bytes = b"", client: str = "") -> bytes:
    m = PalmMessage()
    m.function, m.payload, m.client = function, payload, client
    return m.SerializeToString()


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def connect(ctx, kind: int, address: str) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.setsockopt(zmq.SNDTIMEO, 5000)
    sock.connect(address)
    return sock


def still_serving(cluster: Cluster, client) -> None:
    assert client.eval("master.upper", b"alive", timeout=15) == b"ALIVE"
    assert cluster.master.popen.poll() is None


def test_garbage_on_the_pull_socket(make_cluster, client_of, ctx) -> None:
    cluster = make_cluster(1)
    client = client_of(cluster.name, cluster.db)
    push = connect(ctx, zmq.PUSH, client.get("pull_address").decode())
    good = palm("master.upper", b"x", client.uuid)
    for frames in (
        [os.urandom(64)],
        [good[:-2]],                       # truncated protobuf
        [b""],                             # empty frame
        [b"", b"", b""],                   # empty frames
        [wire.BATCH + b"\x00\x00\x00\xff"],  # a batch cut short
        [b"\x00Q unknown control"],
    ):
        push.send_multipart(frames)
    still_serving(cluster, client)
    cluster.master.wait_for("dropped a frame", timeout=10)
    cluster.master.wait_for("dropped a batch", timeout=10)


def test_bad_calls_are_answered_with_an_error(make_cluster, client_of) -> None:
    cluster = make_cluster(1)
    client = client_of(cluster.name, cluster.db)
    with pytest.raises(RemoteError, match="not a function"):
        client.eval("master.no_such_function", b"", timeout=15)
    with pytest.raises(RemoteError, match="'elsewhere' was called"):
        client.eval("elsewhere.upper", b"", timeout=15)
    with pytest.raises(RemoteError, match="over the limit"):
        client.eval("master.upper", b"x" * (50 * 1024 * 1024), timeout=30)
    still_serving(cluster, client)


def test_garbage_on_the_cache_socket(make_cluster, client_of, ctx) -> None:
    cluster = make_cluster(1)
    client = client_of(cluster.name, cluster.db)
    req = connect(ctx, zmq.REQ, cluster.db)
    for data in (os.urandom(100), b"", palm("master.nosuchverb", b"k"), palm("x.get", b"k")):
        req.send(data)
        assert req.recv() == b""
    cluster.master.wait_for("not a PalmMessage", timeout=10)
    cluster.master.wait_for("unknown cache call", timeout=10)
    still_serving(cluster, client)


def test_garbage_on_the_worker_sockets(make_cluster, client_of, ctx) -> None:
    cluster = make_cluster(1)
    client = client_of(cluster.name, cluster.db)
    results = connect(ctx, zmq.PUSH, client.get("worker_pull_address").decode())
    for frame in (
        os.urandom(50),
        wire.RESULTS + b"\x00",                                 # no worker id
        wire.with_id(wire.RESULTS, b"ghost", b"\x00\x00\x00\x09ab"),  # batch cut short
        wire.with_id(wire.RESULTS, b"ghost", wire.pack([b"short"])),  # bad header
        wire.with_id(wire.RESULTS, b"ghost", wire.pack(
            [wire.RESULT_HEADER.pack(999, wire.FINAL, 0) + b"\xff\xff"])),  # unknown job
        wire.with_id(b"\x00Z", b"ghost"),
    ):
        results.send(frame)
    dealer = connect(ctx, zmq.DEALER, client.get("worker_push_address").decode())
    dealer.send(b"\x00Hnot-a-number")
    dealer.send(os.urandom(30))
    xsub = connect(ctx, zmq.XSUB, client.get("pub_address").decode())
    xsub.send(b"\x07garbage subscription")
    xsub.send(b"")
    still_serving(cluster, client)
    cluster.master.wait_for("bad HELLO", timeout=10)
    cluster.master.wait_for("dropped a result batch", timeout=10)
