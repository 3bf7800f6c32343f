"""SIGTERM and Ctrl-C stop every component cleanly: exit status 0, no traceback."""

from __future__ import annotations

import signal

import pytest

from .conftest import start_master, start_server


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_master_worker_and_server_stop_cleanly(procs, make_cluster, client_of, signum) -> None:
    cluster = make_cluster(1)
    client = client_of(cluster.name, cluster.db)
    assert client.eval("master.upper", b"x", timeout=10) == b"X"
    server, _ = start_server(procs, "srv")
    for proc in (cluster.workers[0], cluster.master, server):
        proc.signal(signum)
        assert proc.wait(timeout=15) == 0, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        assert "Stopped" in proc.stdout


def test_worker_waiting_for_its_master_stops_cleanly(procs) -> None:
    from .conftest import COMPONENTS

    worker = procs.python(COMPONENTS, "worker", "tcp://127.0.0.1:9", name="orphan")
    worker.wait_for("Waiting for the master", timeout=20)
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0
    assert "Traceback" not in worker.stderr


def test_a_stopping_worker_hands_its_messages_back(procs, make_cluster, client_of) -> None:
    cluster = make_cluster(2)
    client = client_of(cluster.name, cluster.db)
    results = []
    for result in client.job("master.slow", (b"%03d" % i for i in range(300)), timeout=20):
        results.append(result)
        if len(results) == 30:
            cluster.workers[0].signal(signal.SIGTERM)
    assert sorted(results) == [b"%03d" % i for i in range(300)]
    assert cluster.workers[0].wait(timeout=10) == 0
    assert "left" in cluster.master.stdout  # goodbye, not a death


def test_master_alone_stops_on_ctrl_c(procs) -> None:
    master, _ = start_master(procs, "m2")
    master.signal(signal.SIGINT)
    assert master.wait(timeout=15) == 0
