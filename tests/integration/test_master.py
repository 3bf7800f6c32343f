"""A Master with real worker processes, driven by our Client."""

from __future__ import annotations

import pytest

from pylm.errors import RemoteError, WrongServerError

from .conftest import Cluster


def test_job_returns_every_result(cluster: Cluster, client_of) -> None:
    client = client_of(cluster.name, cluster.db)
    payloads = [b"m%05d" % i for i in range(2000)]
    results = list(client.job("master.upper", iter(payloads), timeout=20))
    assert sorted(results) == sorted(p.upper() for p in payloads)


def test_eval_and_function_list(cluster: Cluster, client_of) -> None:
    client = client_of(cluster.name, cluster.db)
    assert client.eval("master.upper", b"abc", timeout=10) == b"ABC"
    assert client.eval(["master.upper"], b"xyz", timeout=10) == b"XYZ"


def test_work_is_spread_over_workers(cluster: Cluster, client_of) -> None:
    client = client_of(cluster.name, cluster.db)
    results = list(client.job("master.slow_pid", (b"x" for _ in range(200)), timeout=20))
    pids = {r.split(b":")[0] for r in results}
    assert pids == {str(w.pid).encode() for w in cluster.workers}


def test_cache_set_get_delete(cluster: Cluster, client_of) -> None:
    client = client_of(cluster.name, cluster.db)
    key = client.set(b"value")
    assert len(key) == 36  # a generated uuid4
    assert client.get(key) == b"value"
    assert client.set(b"other", "mine") == "mine"
    assert client.get("mine") == b"other"
    assert client.delete("mine") == "mine"
    assert client.get("mine") == b""
    with pytest.raises(TypeError):
        client.set("not bytes")  # type: ignore[arg-type]
    # Workers reach the master's cache too.
    assert client.eval("master.cached", key.encode(), timeout=10) == b"value"
    stored = client.eval("master.store", b"from a worker", timeout=10).decode()
    assert client.get(stored) == b"from a worker"


def test_session_prefixes_keys(cluster: Cluster, client_of) -> None:
    client = client_of(cluster.name, cluster.db, session="sess-")
    assert client.set(b"v", "k") == "sess-k"
    assert client.get("sess-k") == b"v"


def test_self_description(cluster: Cluster, client_of) -> None:
    client = client_of(cluster.name, cluster.db)
    assert client.get("name") == b"master"
    for key in ("pull_address", "pub_address", "worker_push_address", "worker_pull_address"):
        assert client.get(key).startswith(b"tcp://127.0.0.1:")
    assert client.get("db_address") == cluster.db.encode()


def test_failing_function_is_an_error_and_the_job_goes_on(cluster: Cluster, client_of) -> None:
    client = client_of(cluster.name, cluster.db)
    payloads = [b"ok-%d" % i if i != 7 else b"fail-7" for i in range(50)]
    results = list(client.job("master.fail", iter(payloads), timeout=20))
    errors = [r for r in results if isinstance(r, RemoteError)]
    assert len(results) == 50
    assert len(errors) == 1 and errors[0].index == 7
    assert "ValueError" in errors[0].reason and "fail-7" in errors[0].reason
    assert sorted(r for r in results if isinstance(r, bytes)) == sorted(
        p for p in payloads if p != b"fail-7"
    )
    with pytest.raises(RemoteError, match="ValueError"):
        client.eval("master.fail", b"fail now", timeout=10)
    # The traceback is in the worker's log, and the worker goes on.
    assert any("Traceback" in w.stdout + w.stderr for w in cluster.workers)
    assert client.eval("master.upper", b"still here", timeout=10) == b"STILL HERE"


def test_unknown_function_and_wrong_server(cluster: Cluster, client_of) -> None:
    client = client_of(cluster.name, cluster.db)
    with pytest.raises(RemoteError, match="not a function"):
        client.eval("master.nosuch", b"x", timeout=10)
    with pytest.raises(RemoteError, match="start"):
        client.eval("master.start", b"x", timeout=10)  # framework methods are not callable
    with pytest.raises(RemoteError, match="'other' was called"):
        client.eval("other.upper", b"x", timeout=10)
    with pytest.raises(RemoteError, match="server.method"):
        client.eval("nodot", b"x", timeout=10)
    assert client.eval("master.upper", b"ok", timeout=10) == b"OK"
    assert "was called" in cluster.master.stdout  # logged as an error


def test_client_refuses_the_wrong_server(cluster: Cluster) -> None:
    with pytest.raises(WrongServerError):
        Client_ = __import__("pylm.clients", fromlist=["Client"]).Client
        Client_("not-master", cluster.db, timeout=5)


def test_timeout_instead_of_hanging(make_cluster, client_of) -> None:
    lonely = make_cluster(workers=0)
    client = client_of(lonely.name, lonely.db)
    with pytest.raises(TimeoutError):
        client.eval("master.upper", b"nobody works", timeout=0.5)
    with pytest.raises(TimeoutError):
        list(client.job("master.upper", iter([b"a", b"b"]), timeout=0.5))
    # A worker that joins later takes the waiting messages; late results of the calls that
    # timed out are recognised and dropped, so the next call gets its own answer.
    lonely.add_worker()
    assert client.eval("master.upper", b"now", timeout=10) == b"NOW"


def test_mux_worker_yields_several_results(make_cluster, client_of) -> None:
    cluster = make_cluster(workers=1, kind="muxworker")
    client = client_of(cluster.name, cluster.db)
    results = list(client.job("master.three", iter([b"a", b"b"]), messages=6, timeout=10))
    assert sorted(results) == [b"a-0", b"a-1", b"a-2", b"b-0", b"b-1", b"b-2"]
    assert client.eval("master.three", b"c", messages=3, timeout=10) == [b"c-0", b"c-1", b"c-2"]
