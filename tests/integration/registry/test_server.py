"""The registry as a real process: CLI, port 0, concurrency on SQLite and PostgreSQL, SSE."""

import json
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from registry_proc import add_user, env, registry_cli, registry_server

CLUSTER = """
[Master]
Script = python3 master.py
--pull = _1
--db = _2

[Worker]
Script = python3 worker.py
--db = _2
--own = _3
Connected = Master
Replicas = 40
"""


def test_user_add_reads_stdin_and_prints_the_key_last(sqlite_db):
    done = registry_cli("user", "add", "alice", "--admin", "--db", sqlite_db,
                        stdin="s3cret pass\n")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("pylm_") and len(key) > 40
    listing = registry_cli("user", "list", "--db", sqlite_db).stdout
    assert "alice" in listing and "admin" in listing and key not in listing
    again = registry_cli("user", "add", "alice", "--db", sqlite_db, stdin="x\n")
    assert again.returncode != 0 and "already exists" in again.stderr
    empty = registry_cli("user", "add", "bob", "--db", sqlite_db, stdin="\n")
    assert empty.returncode != 0
    new = registry_cli("user", "new-key", "alice", "--db", sqlite_db)
    assert new.returncode == 0 and new.stdout.strip().splitlines()[-1] != key
    assert registry_cli("user", "deactivate", "alice", "--db", sqlite_db).returncode == 0
    assert "inactive" in registry_cli("user", "list", "--db", sqlite_db).stdout
    assert registry_cli("user", "deactivate", "nobody", "--db", sqlite_db).returncode == 1


def test_default_database_lives_in_the_data_directory(tmp_path):
    home = tmp_path / "home"
    e = env()
    e["PYLM_REGISTRY_HOME"] = str(home)
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pylm.registry", "user", "add", "x"],
                          input="pw\n", capture_output=True, text=True, timeout=60, env=e)
    assert done.returncode == 0, done.stderr
    db = home / "registry.db"
    assert db.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_serve_announces_the_os_port_and_accepts_sync(sqlite_db, tmp_path):
    key = add_user(sqlite_db, "alice")
    with registry_server(sqlite_db, tmp_path / "log", "serve", "--sync") as server:
        assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":0")
        r = httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {key}"},
                      timeout=10)
        assert r.json()["name"] == "alice"
        assert httpx.get(server.url + "/metrics", timeout=10).status_code == 200
    assert server.process.returncode == 0


def _join_fifty(url: str, user_key: str) -> None:
    h = {"Authorization": f"Bearer {user_key}"}
    cluster = httpx.post(url + "/api/v1/clusters", json={"config": CLUSTER}, headers=h,
                         timeout=30).json()["key"]
    barrier = threading.Barrier(50)

    def join(i: int) -> list[dict]:
        node = {"name": f"node-{i}", "ip": f"127.0.0.{1 + i % 3}", "processors": 1,
                "ports_from": 6000}
        with httpx.Client(timeout=60) as client:
            barrier.wait(timeout=60)
            if i % 2:
                r = client.post(f"{url}/api/v1/clusters/{cluster}/join", json=node,
                                headers={"Authorization": f"Bearer {cluster}"})
                assert r.status_code == 200, r.text
                return [x["command"] for x in r.json()["instances"]]
            ini = (f"[DEFAULT]\nName = {node['name']}\nIp = {node['ip']}\nProcessors = 1\n"
                   f"Ports_from = 6000\n")
            r = client.get(f"{url}/cluster", params={"method": "node_config",
                                                     "cluster": cluster, "node": ini})
            assert r.status_code == 200, r.text
            return r.json()

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(join, range(50)))
    commands = [c for answer in answers for c in answer]
    assert len(commands) == 41
    assert sum(1 for a in answers if a == []) == 9
    assert sum(1 for c in commands if c.startswith("python3 master.py")) == 1
    status = httpx.get(f"{url}/api/v1/clusters/{cluster}/status", headers=h, timeout=30).json()
    assert status["ready"] is True
    assert status["services"]["Worker"] == {"placed": 40, "needed": 40, "role": "Master"}
    replicas = sorted(i["replica"] for i in status["instances"] if i["service"] == "Worker")
    assert replicas == list(range(40))
    addresses = list(status["sockets"].values())
    assert len(addresses) == len(set(addresses)) == 3
    # the same node asking again gets the same answer
    again = httpx.post(f"{url}/api/v1/clusters/{cluster}/join", timeout=30,
                       json={"name": "node-1", "ip": "127.0.0.2", "processors": 1,
                             "ports_from": 6000}, headers={"Authorization": f"Bearer {cluster}"})
    assert [x["command"] for x in again.json()["instances"]] == answers[1]


def test_fifty_runners_joining_at_once_on_sqlite(server):
    _join_fifty(server.url, add_user(server.db, "alice"))


@pytest.mark.postgres
def test_fifty_runners_joining_at_once_on_postgresql(postgres_db, tmp_path):
    key = add_user(postgres_db, "alice")
    with registry_server(postgres_db, tmp_path / "log") as server:
        _join_fifty(server.url, key)


@pytest.mark.postgres
def test_logs_dedupe_and_query_on_postgresql(postgres_db, tmp_path):
    key = add_user(postgres_db, "alice")
    h = {"Authorization": f"Bearer {key}"}
    with registry_server(postgres_db, tmp_path / "log") as server:
        cluster = httpx.post(server.url + "/api/v1/clusters", json={"config": CLUSTER},
                             headers=h, timeout=30).json()["key"]
        url = f"{server.url}/api/v1/clusters/{cluster}/logs"
        batch = {"source": "s", "lines": [{"service": "Worker", "instance": "Worker.0",
                                           "seq": i, "text": f"l{i}"} for i in range(100)]}
        first = httpx.post(url, json=batch, headers={"Authorization": f"Bearer {cluster}"},
                           timeout=30).json()
        second = httpx.post(url, json=batch, headers={"Authorization": f"Bearer {cluster}"},
                            timeout=30).json()
        assert first == {"accepted": 100, "duplicates": 0}
        assert second == {"accepted": 0, "duplicates": 100}
        page = httpx.get(url, params={"service": "Worker", "limit": 5}, headers=h,
                         timeout=30).json()
        assert [x["seq"] for x in page["lines"]] == [99, 98, 97, 96, 95]


def test_follow_streams_new_lines_as_server_sent_events(server):
    key = add_user(server.db, "alice")
    h = {"Authorization": f"Bearer {key}"}
    cluster = httpx.post(server.url + "/api/v1/clusters", json={"config": CLUSTER}, headers=h,
                         timeout=30).json()["key"]
    logs = f"{server.url}/api/v1/clusters/{cluster}/logs"
    httpx.post(logs, json={"lines": [{"text": "old line", "service": "Worker"}]}, headers=h,
               timeout=30)
    got = []
    with httpx.stream("GET", logs + "/follow", params={"service": "Worker"}, headers=h,
                      timeout=httpx.Timeout(30)) as stream:
        lines = stream.iter_lines()
        assert next(lines) == ": following"
        httpx.post(logs, json={"lines": [{"text": "other", "service": "Master"},
                                         {"text": "fresh line", "service": "Worker"}]},
                   headers=h, timeout=30)
        for line in lines:
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
                break
    assert [g["text"] for g in got] == ["fresh line"]


def test_server_log_has_no_keys(server):
    key = add_user(server.db, "alice")
    h = {"Authorization": f"Bearer {key}"}
    cluster = httpx.post(server.url + "/api/v1/clusters", json={"config": CLUSTER}, headers=h,
                         timeout=30).json()["key"]
    httpx.get(server.url + "/cluster", params={"method": "cluster_status", "cluster": cluster},
              headers={"Key": key}, timeout=30)
    httpx.get(f"{server.url}/api/v1/clusters/{cluster}/status", headers=h, timeout=30)
    server.process.terminate()
    server.process.wait(timeout=15)
    text = server.log_path.read_text()
    assert "/api/v1/clusters/{cluster}/status" in text
    assert key not in text and cluster not in text
    assert os.path.getsize(server.log_path) > 0


@pytest.mark.parametrize(("db", "words"), [
    ("nonsense", "cannot open the database"),
    ("mysql://x/y", "not supported"),
    ("sqlite:////proc/no-such-dir/registry.db", "cannot open the database"),
])
def test_bad_database_urls_get_a_short_error(db, words):
    done = registry_cli("user", "list", "--db", db)
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr


def test_bad_user_names_are_refused(sqlite_db):
    done = registry_cli("user", "add", "x" * 101, "--db", sqlite_db, stdin="pw\n")
    assert done.returncode == 2 and "1 to 100" in done.stderr
