"""Back-pressure: a client flooding a master with 1 GB keeps both processes' memory bounded."""

from __future__ import annotations

import re
import time
from pathlib import Path

import psutil

FLOOD = str(Path(__file__).with_name("flood_client.py"))
MiB = 1024 * 1024


def test_flood_of_1gb_keeps_master_and_client_under_150_mib(make_cluster, procs) -> None:
    cluster = make_cluster(2)  # workers take 10 ms per message ("slow")
    count, size = 100_000, 10_000  # 1 GB of 10 KB payloads
    client = procs.python(FLOOD, cluster.name, cluster.db, str(count), str(size), name="flood")
    watched = {"master": psutil.Process(cluster.master.pid), "client": psutil.Process(client.pid)}
    peak = dict.fromkeys(watched, 0)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # sample for 15 s of flooding
        for name, proc in watched.items():
            peak[name] = max(peak[name], proc.memory_info().rss)
        time.sleep(0.1)
    progress = re.findall(r"progress (\d+) (\d+)", client.stdout)
    assert progress, client.stdout + client.stderr
    sent, received = map(int, progress[-1])
    assert received > 100  # the job advances...
    assert sent < count  # ...and the client was held back instead of reading all 1 GB
    assert sent - received < 10_000  # what is in flight stays bounded (of 100,000)
    mib = {k: v // MiB for k, v in peak.items()}
    print(f"peak RSS MiB: {mib}, sent {sent}, received {received}")
    assert peak["master"] < 150 * MiB, peak
    assert peak["client"] < 150 * MiB, peak
