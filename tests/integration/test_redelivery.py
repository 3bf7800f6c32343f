"""Workers that die: every result still arrives exactly once; a poison message is given up."""

from __future__ import annotations

import signal
import time

from pylm.errors import RemoteError


def test_sigkill_of_a_worker_mid_job_loses_and_duplicates_nothing(make_cluster, client_of):
    cluster = make_cluster(2, heartbeat=0.3)
    client = client_of(cluster.name, cluster.db)
    payloads = [b"%04d" % i for i in range(400)]
    seen: list[bytes] = []
    pids: set[bytes] = set()
    for result in client.job("master.slow_pid", iter(payloads), timeout=20):
        pid, _, payload = result.partition(b":")
        seen.append(payload)
        pids.add(pid)
        if len(seen) == 60:
            cluster.workers[0].signal(signal.SIGKILL)
    assert sorted(seen) == payloads  # every one, exactly once
    assert cluster.workers[0].wait(5) == -signal.SIGKILL
    assert "stopped answering" in cluster.master.stdout
    # Nothing more trickles in: the next call gets its own answer.
    assert client.eval("master.upper", b"after", timeout=10) == b"AFTER"


def test_a_message_that_kills_workers_is_reported_as_failed(make_cluster, client_of):
    cluster = make_cluster(4, "--prefetch", "1", heartbeat=0.3)
    client = client_of(cluster.name, cluster.db)
    payloads = [b"a", b"b", b"poison", b"c", b"d"]
    start = time.monotonic()
    results = list(client.job("master.poison", iter(payloads), timeout=30))
    failures = [r for r in results if isinstance(r, RemoteError)]
    assert len(results) == 5 and len(failures) == 1
    assert failures[0].index == 2 and "workers died" in failures[0].reason
    assert sorted(r for r in results if isinstance(r, bytes)) == [b"a", b"b", b"c", b"d"]
    assert sum(w.popen.poll() is not None for w in cluster.workers) == 3  # max_deaths
    assert time.monotonic() - start < 30
