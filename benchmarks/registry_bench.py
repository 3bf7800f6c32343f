"""Registry figures, side by side with the original pylm-registry 0.4.14 (not a test).

    PYTHONPATH=src python benchmarks/registry_bench.py [--skip-postgres] [--query-lines N]

1. Legacy ingest: 50 batches of 1,000 lines posted with pylm-registry 0.4.14's own
   ``LogClient`` (run by the legacy interpreter) to the original registry and to ours, each on
   a SQLite file; lines/s of each, the ratio, and a check that every line is stored once.
2. Sustained ingest: 8 concurrent senders with labels on the JSON API, SQLite and PostgreSQL.
3. Query latency of the common reads with 1,000,000 lines stored.
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))

from pylm.registry.logs import LogQuery, LogRow  # noqa: E402
from pylm.registry.store import Store  # noqa: E402

BATCHES = 50
BATCH_LINES = 1000
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"

LEGACY_SENDER = r"""
import sys, time
from pylm.registry.clients import LogClient
from pylm.registry.messages.registry_pb2 import LogMessages
url, cluster, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bodies = []
for b in range(batches):
    buffer = LogMessages()
    buffer.messages.extend("batch %d line %d: some component output" % (b, i)
                           for i in range(size))
    bodies.append(buffer.SerializeToString())
client = LogClient(url, cluster)
start = time.perf_counter()
for body in bodies:
    client.send(body)
print(time.perf_counter() - start)
"""

LEGACY_NEW_CLUSTER = r"""
import sys
from pylm.registry.clients import RegistryClient
print(RegistryClient(sys.argv[1], sys.argv[2]).set_cluster(sys.argv[3]))
"""


def legacy_python() -> str:
    path = os.environ.get("PYLM_LEGACY_PYTHON") or str(ROOT / ".bench/legacy/bin/python")
    if not os.path.exists(path):
        raise SystemExit(f"legacy interpreter missing ({path}): run scripts/legacy-venv")
    return path


def our_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC)}


def legacy_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def start_ours(db: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "pylm.registry", "--db", db, "--port", "0",
                             "--log-level", "warning"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=our_env())
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line.startswith("pylm-registry listening on "):
            return proc, line.split()[-1]
    proc.kill()
    raise SystemExit("our registry did not start")


def our_user(db: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pylm.registry", "user", "add", "bench",
                           "--db", db], input="bench password\n", capture_output=True,
                          text=True, env=our_env(), timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


def send_legacy(python: str, url: str, cluster: str) -> float:
    done = subprocess.run([python, "-c", LEGACY_SENDER, url, cluster, str(BATCHES),
                           str(BATCH_LINES)], capture_output=True, text=True,
                          env=legacy_env(), timeout=1800)
    if done.returncode != 0:
        raise SystemExit("legacy sender failed: " + done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def _count_original(db: Path, cluster: str) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*), count(DISTINCT text) FROM cluster_logs "
                            "WHERE cluster = ?", (cluster,)).fetchone()


def _count_ours(db: Path, cluster: str) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT count(*), count(DISTINCT text) FROM log_lines JOIN clusters "
            "ON clusters.id = log_lines.cluster_id WHERE clusters.key = ?",
            (cluster,)).fetchone()


def bench_legacy_ingest(tmp: Path, rounds: int) -> dict[str, float]:
    """Both registries up at once; each round posts to the original, then to ours."""
    python = legacy_python()
    total = BATCHES * BATCH_LINES
    cluster_file = tmp / "cluster.conf"
    cluster_file.write_text("[Echo]\nScript = python3 echo.py\n--db = _1\n")
    orig_db = tmp / "original.db"
    ours_file = tmp / "ours.db"
    ours_db = f"sqlite:///{ours_file}"
    port = free_port()
    orig = subprocess.Popen([python, str(Path(python).parent / "pylm-registry"), "--db",
                             f"sqlite:///{orig_db}", "--port", str(port), "--sync"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True, env=legacy_env(),
                            start_new_session=True)
    key = our_user(ours_db)
    ours, url = start_ours(ours_db)
    speeds: dict[str, list[float]] = {"original": [], "ours": []}
    try:
        orig.stdin.write("admin password\n")
        orig.stdin.close()
        orig_url = f"http://127.0.0.1:{port}"
        wait_http(orig_url + "/login", time.monotonic() + 60)
        with sqlite3.connect(orig_db) as conn:
            admin_key = conn.execute("SELECT key FROM users WHERE admin = 1").fetchone()[0]
        targets = {"original": (orig_url, admin_key, orig_db, _count_original),
                   "ours": (url, key, ours_file, _count_ours)}
        for _ in range(rounds):
            for name, (base, user_key, db, count) in targets.items():
                made = subprocess.run([python, "-c", LEGACY_NEW_CLUSTER, base, user_key,
                                       str(cluster_file)], capture_output=True, text=True,
                                      env=legacy_env(), timeout=60, check=True)
                cluster = made.stdout.strip()
                seconds = send_legacy(python, base, cluster)
                speeds[name].append(total / seconds)
                rows, distinct = count(db, cluster)
                if rows != total or distinct != total:
                    print(f"  WARNING: {name} stored {rows} rows / {distinct} distinct, "
                          f"not {total}")
    finally:
        stop(orig)
        stop(ours)
    result = {name: statistics.median(values) for name, values in speeds.items()}
    result["ratio"] = result["ours"] / result["original"]
    print(f"legacy LogClient, {BATCHES} x {BATCH_LINES} lines, SQLite file, "
          f"{rounds} rounds (each: a new cluster; every line checked stored once):")
    for name in ("original", "ours"):
        shown = ", ".join(f"{v:.0f}" for v in speeds[name])
        print(f"  {name:9s} median {result[name]:8.0f} lines/s  (rounds: {shown})")
    pairs = [o / g for o, g in zip(speeds["ours"], speeds["original"], strict=True)]
    result["pair_ratio"] = statistics.median(pairs)
    print(f"  ratio ours/original: {result['ratio']:.1f}x of the medians; per round "
          + ", ".join(f"{r:.1f}x" for r in pairs) + f" (median {result['pair_ratio']:.1f}x)")
    print(f"  load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return result


def bench_sustained(db: str, label: str, senders: int = 8, batches: int = 25) -> float:
    key = our_user(db)
    proc, url = start_ours(db)
    try:
        h = {"Authorization": f"Bearer {key}"}
        cluster = httpx.post(url + "/api/v1/clusters",
                             json={"config": "[Echo]\nScript = echo\nReplicas = 8\n"},
                             headers=h, timeout=60).json()["key"]
        base = datetime.now(UTC)
        bodies = [[{"source": f"spool-{s}", "lines": [
            {"node": f"node-{s}", "service": "Echo", "instance": f"Echo.{s}",
             "stream": "stdout" if i % 5 else "stderr",
             "time": (base + timedelta(microseconds=b * BATCH_LINES + i)).isoformat(),
             "seq": b * BATCH_LINES + i, "text": f"sender {s} batch {b} line {i}"}
            for i in range(BATCH_LINES)]} for b in range(batches)] for s in range(senders)]
        barrier = threading.Barrier(senders)

        def send(s: int) -> int:
            stored = 0
            with httpx.Client(timeout=120,
                              headers={"Authorization": f"Bearer {cluster}"}) as client:
                barrier.wait(timeout=60)
                for body in bodies[s]:
                    r = client.post(f"{url}/api/v1/clusters/{cluster}/logs", json=body)
                    r.raise_for_status()
                    stored += r.json()["accepted"]
            return stored

        start = time.perf_counter()
        with ThreadPoolExecutor(senders) as pool:
            stored = sum(pool.map(send, range(senders)))
        seconds = time.perf_counter() - start
    finally:
        stop(proc)
    total = senders * batches * BATCH_LINES
    rate = total / seconds
    print(f"JSON API, {senders} concurrent senders x {batches} batches x {BATCH_LINES} "
          f"labelled lines, {label}: {rate:10.0f} lines/s (stored {stored} of {total})")
    return rate


def bench_queries(tmp: Path, lines: int) -> dict[str, float]:
    db = f"sqlite:///{tmp / 'query.db'}"
    store = Store(db)
    user, key = store.add_user("q", "q password")
    cluster = store.create_cluster(user.id, "[S]\nScript = s\nReplicas = 10\n")
    base = datetime(2026, 12, 1)
    services = [f"Service{i}" for i in range(10)]
    start = time.perf_counter()
    chunk = 10_000
    for offset in range(0, lines, chunk):
        store.ingest(cluster.id, [
            LogRow(base + timedelta(milliseconds=n), f"node-{n % 4}", services[n % 10],
                   f"{services[n % 10]}.{n % 3}", "stdout", "fill", n,
                   f"line {n} of the valuation worker, price {n * 7 % 1000}")
            for n in range(offset, min(offset + chunk, lines))])
    fill = time.perf_counter() - start
    samples = []
    for _ in range(21):
        t = time.perf_counter()
        rows = store.query_logs(cluster.id, LogQuery(service="Service3", limit=100))
        samples.append((time.perf_counter() - t) * 1000)
    assert len(rows) == 100
    store_ms = statistics.median(samples)
    store.close()
    print(f"query set-up: {lines} lines stored in {fill:.1f} s ({lines / fill:.0f} lines/s, "
          f"in-process store)")
    print(f"  {'last 100 lines of one service, store only':40s} median {store_ms:8.1f} ms "
          f"(no HTTP)")
    proc, url = start_ours(db)
    results = {}
    try:
        h = {"Authorization": f"Bearer {key}"}
        logs = f"{url}/api/v1/clusters/{cluster.key}/logs"
        mid = (base + timedelta(milliseconds=lines // 2)).isoformat()
        later = (base + timedelta(milliseconds=lines // 2 + 60_000)).isoformat()
        first = httpx.get(logs, params={"service": "Service3", "limit": 100}, headers=h,
                          timeout=60).json()
        reads = {
            "last 100 lines of one service": {"service": "Service3", "limit": 100},
            "next page (cursor) of one service": {"service": "Service3", "limit": 100,
                                                  "cursor": first["next_cursor"]},
            "last 100 lines of the cluster": {"limit": 100},
            "last 100 lines of one instance": {"service": "Service3",
                                               "instance": "Service3.1", "limit": 100},
            "one minute of the cluster (from/to)": {"from": mid, "to": later, "limit": 1000,
                                                    "order": "asc"},
            "text search, newest 100 matches": {"q": "price 999", "limit": 100},
        }
        with httpx.Client(timeout=120, headers=h) as client:
            for name, params in reads.items():
                samples = []
                for _ in range(21):
                    t = time.perf_counter()
                    r = client.get(logs, params=params)
                    samples.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                results[name] = statistics.median(samples)
                print(f"  {name:40s} median {results[name]:8.1f} ms over HTTP "
                      f"({len(r.json()['lines'])} lines)")
    finally:
        stop(proc)
    return results


def postgres_db() -> tuple[str, str]:
    import psycopg

    name = "pylm_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-legacy", action="store_true")
    parser.add_argument("--query-lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5, help="legacy ingest rounds")
    args = parser.parse_args()
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
          f"python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="pylm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_legacy:
            bench_legacy_ingest(tmp, args.rounds)
        bench_sustained(f"sqlite:///{tmp / 'sustained.db'}", "SQLite file")
        if not args.skip_postgres:
            name, url = postgres_db()
            try:
                bench_sustained(url, "PostgreSQL")
            finally:
                drop_postgres(name)
        print(f"query latency with {args.query_lines} lines stored (SQLite file):")
        bench_queries(tmp, args.query_lines)


if __name__ == "__main__":
    main()
