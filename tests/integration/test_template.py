"""A Master assembled by hand with ServerTemplate behaves as the ready-made Master."""

from __future__ import annotations

import pytest

from pylm.errors import RemoteError

from .conftest import COMPONENTS, LISTEN, Cluster


@pytest.fixture
def handmade(procs) -> Cluster:
    master = procs.python(COMPONENTS, "template-master", "hand", name="master")
    db = master.wait_for(LISTEN).group(1)
    cluster = Cluster("hand", db, master, [], procs)
    cluster.add_worker()
    cluster.add_worker()
    return cluster


def test_handmade_master_serves_jobs_cache_and_errors(handmade: Cluster, client_of) -> None:
    client = client_of("hand", handmade.db)
    payloads = [b"p%d" % i for i in range(500)]
    assert sorted(client.job("hand.upper", iter(payloads), timeout=20)) == sorted(
        p.upper() for p in payloads
    )
    key = client.set(b"v")
    assert client.get(key) == b"v"
    with pytest.raises(RemoteError, match="ValueError"):
        client.eval("hand.fail", b"fail", timeout=10)
    with pytest.raises(RemoteError, match="was called"):
        client.eval("other.upper", b"x", timeout=10)
    for line in ("Starting the router", "Inbound Pull connects to WorkerPush",
                 "Inbound WorkerPull connects to Pub", "Pub successfully started"):
        assert line in handmade.master.stdout
