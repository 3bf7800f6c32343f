"""A single-process Server, driven by our Client."""

from __future__ import annotations

import pytest

from pylm.clients import Client
from pylm.errors import RemoteError

from .conftest import start_server


def test_eval_right_after_the_client_is_created_never_misses(procs) -> None:
    _, db = start_server(procs, "srv")
    # A fresh client (fresh SUB socket) each time: the original lost most of these replies.
    for i in range(150):
        with Client("srv", db, timeout=5) as client:
            assert client.eval("srv.upper", b"x%d" % i, timeout=10) == b"X%d" % i


def test_thousands_of_evals_in_a_row(procs, client_of) -> None:
    _, db = start_server(procs, "srv")
    client = client_of("srv", db)
    for i in range(3000):
        assert client.eval("srv.echo", b"%d" % i, timeout=10) == b"%d" % i


def test_job_and_errors(procs, client_of) -> None:
    server, db = start_server(procs, "srv")
    client = client_of("srv", db)
    payloads = [b"fail-%d" % i if i % 10 == 3 else b"ok-%d" % i for i in range(100)]
    results = list(client.job("srv.fail", iter(payloads), timeout=10))
    failed = sorted(r.index for r in results if isinstance(r, RemoteError))
    assert failed == [i for i in range(100) if i % 10 == 3]
    assert sum(isinstance(r, bytes) for r in results) == 90
    with pytest.raises(RemoteError, match="not a function"):
        client.eval("srv.nosuch", b"", timeout=10)
    assert "Traceback" in server.stdout + server.stderr
    assert client.eval("srv.upper", b"alive", timeout=10) == b"ALIVE"


def test_messages_bounds_what_the_server_handles(procs, client_of) -> None:
    server, db = start_server(procs, "srv", "--messages", "5")
    client = client_of("srv", db)
    assert list(client.job("srv.echo", (b"%d" % i for i in range(5)), timeout=10)) == [
        b"%d" % i for i in range(5)
    ]
    assert server.wait(timeout=10) == 0
