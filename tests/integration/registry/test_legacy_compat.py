"""The ORIGINAL pylm-registry 0.4.14 clients and runner work against our registry unchanged."""

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from registry_proc import add_user, registry_server, run_legacy

pytestmark = pytest.mark.legacy

CLUSTER = """[Valuation Master]
Script = python3 valuation_master.py
--pull = _1
--pub = _2
--workerpull = _3
--workerpush = _4
--db = _5

[Valuation Worker]
Script = python3 valuation_worker.py
--db = _5
Connected = Valuation Master
Role = Worker
Replicas = 2
"""

CLIENT_SCRIPT = r"""
import json, sys
from pylm.registry.clients import RegistryClient, LogClient
from pylm.registry.clients.registry import request
from pylm.registry.messages.registry_pb2 import LogMessages
url, user_key, config_file = sys.argv[1:4]
out = {}
client = RegistryClient(url, user_key)
key = client.set_cluster(config_file)
out["key"] = key
out["chosen"] = client.set_cluster(config_file, key="my-chosen-key")
out["list"] = client.cluster_list()
out["empty_status"] = client.cluster_status(key)
node = "[DEFAULT]\nName = a\nIp = 127.0.0.1\nProcessors = 1\nPorts_from = 5555\n"
out["node_a"] = request(url, key, node)
out["node_b"] = client.request(key, node.replace("Name = a", "Name = b").replace(
    "127.0.0.1", "127.0.0.2").replace("Processors = 1", "Processors = 2"))
out["status"] = client.cluster_status(key)
try:
    request(url, "my-chosen-key", node)
    out["chosen_without_key"] = "accepted"
except Exception as exc:
    out["chosen_without_key"] = type(exc).__name__ + " " + str(getattr(exc, "code", ""))
buffer = LogMessages()
buffer.messages.extend(["hello from LogClient", "second line"])
LogClient(url, key).send(buffer.SerializeToString())
try:
    LogClient(url, key).download()
    out["download_without_key"] = "accepted"
except Exception as exc:
    out["download_without_key"] = type(exc).__name__ + " " + str(getattr(exc, "code", ""))
out["reset"] = client.cluster_reset(key)
out["status_after_reset"] = client.cluster_status(key)
print(json.dumps(out))
"""


def test_registry_client_and_log_client(server, legacy_python, tmp_path):
    user_key = add_user(server.db, "alice")
    config = tmp_path / "cluster.conf"
    config.write_text(CLUSTER)
    done = run_legacy(legacy_python, CLIENT_SCRIPT, server.url, user_key, str(config))
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    key = out["key"]
    assert len(key) == 36 and out["chosen"] == "my-chosen-key"
    assert set(out["list"]) == {key, "my-chosen-key"}
    assert out["list"][key]["description"] == CLUSTER.strip()
    assert out["empty_status"] == "Empty"
    assert out["node_a"] == [
        "python3 valuation_master.py --pull tcp://127.0.0.1:5555 --pub tcp://127.0.0.1:5556 "
        "--workerpull tcp://127.0.0.1:5557 --workerpush tcp://127.0.0.1:5558 "
        "--db tcp://127.0.0.1:5559"]
    assert out["node_b"] == ["python3 valuation_worker.py --db tcp://127.0.0.1:5559"] * 2
    assert out["status"]["ready"] is True
    assert out["status"]["highest port used"] == {"127.0.0.1": 5559}
    assert out["chosen_without_key"] == "HTTPClientError 401"
    # spec §5: reading logs needs the owner's Key header, which LogClient.download cannot send
    assert out["download_without_key"] == "HTTPClientError 401"
    assert out["reset"] == key and out["status_after_reset"] == "Empty"
    r = httpx.get(server.url + "/logs", params={"cluster": key}, headers={"Key": user_key},
                  timeout=30)
    assert [line["text"] for line in r.json()] == ["hello from LogClient", "second line"]


ECHO = """import sys
print("component started with", " ".join(sys.argv[1:]), flush=True)
for i in range(3):
    print("component line", i, flush=True)
"""


def _wait_for_lines(url: str, user_key: str, key: str, want: int, deadline: float) -> list:
    lines: list = []
    while time.monotonic() < deadline:
        r = httpx.get(f"{url}/api/v1/clusters/{key}/logs", params={"order": "asc"},
                      headers={"Authorization": f"Bearer {user_key}"}, timeout=30)
        lines = r.json()["lines"]
        if len(lines) >= want:
            return lines
        time.sleep(0.2)
    return lines


def test_original_runner_joins_with_the_cluster_key_and_ships_logs(server, legacy_python,
                                                                   tmp_path):
    user_key = add_user(server.db, "alice")
    echo = tmp_path / "echo.py"
    echo.write_text(ECHO)
    config = (f"[Echo]\nScript = {sys.executable} {echo}\n--db = _1\nReplicas = 2\n")
    key = httpx.post(server.url + "/api/v1/clusters", json={"config": config},
                     headers={"Authorization": f"Bearer {user_key}"}, timeout=30).json()["key"]
    node = tmp_path / "node.conf"
    node.write_text("[DEFAULT]\nName = runner-1\nIp = 127.0.0.1\nProcessors = 2\n"
                    "Ports_from = 7100\n")
    runner_bin = os.path.join(os.path.dirname(legacy_python), "pylm-runner")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    runner = subprocess.Popen([legacy_python, runner_bin, "--registry", server.url,
                               "--cluster", key, "--config", str(node)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, start_new_session=True)
    try:
        lines = _wait_for_lines(server.url, user_key, key, 8, time.monotonic() + 60)
    finally:
        os.killpg(runner.pid, signal.SIGTERM)
        output = runner.communicate(timeout=30)[0]
    texts = sorted(line["text"] for line in lines)
    assert texts.count("component started with --db tcp://127.0.0.1:7100") == 2, output
    assert texts.count("component line 2") == 2
    status = httpx.get(f"{server.url}/api/v1/clusters/{key}/status",
                       headers={"Authorization": f"Bearer {user_key}"}, timeout=30).json()
    assert status["ready"] is True and len(status["instances"]) == 2


def test_original_runner_cannot_join_a_chosen_key_cluster_without_user_key(
        server, legacy_python, tmp_path):
    user_key = add_user(server.db, "alice")
    httpx.post(server.url + "/api/v1/clusters",
               json={"config": "[Echo]\nScript = true\n", "key": "team-cluster"},
               headers={"Authorization": f"Bearer {user_key}"}, timeout=30)
    runner_bin = os.path.join(os.path.dirname(legacy_python), "pylm-runner")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([legacy_python, runner_bin, "--registry", server.url,
                           "--cluster", "team-cluster"], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode != 0 and "401" in done.stderr
    status = httpx.get(f"{server.url}/api/v1/clusters/team-cluster/placement",
                       headers={"Authorization": f"Bearer {user_key}"}, timeout=30).json()
    assert status["instances"] == []


DOWNLOAD_SCRIPT = r"""
import json, sys
from pylm.registry.clients import LogClient
from pylm.registry.messages.registry_pb2 import LogMessages
url, key = sys.argv[1:3]
client = LogClient(url, key)
buffer = LogMessages()
buffer.messages.extend(["one", "two"])
client.send(buffer.SerializeToString())
print(json.dumps(client.download()))
"""


def test_log_client_download_with_the_legacy_log_read_option(sqlite_db, legacy_python,
                                                             tmp_path):
    user_key = add_user(sqlite_db, "alice")
    with registry_server(sqlite_db, tmp_path / "log", "--legacy-log-read") as server:
        h = {"Authorization": f"Bearer {user_key}"}
        key = httpx.post(server.url + "/api/v1/clusters", json={"config": CLUSTER},
                         headers=h, timeout=30).json()["key"]
        done = run_legacy(legacy_python, DOWNLOAD_SCRIPT, server.url, key)
        assert done.returncode == 0, done.stderr[-2000:]
        lines = json.loads(done.stdout.strip().splitlines()[-1])
        assert [x["text"] for x in lines] == ["one", "two"]
        # still nothing without a key for a cluster whose key the user chose
        httpx.post(server.url + "/api/v1/clusters", json={"config": CLUSTER, "key": "mine"},
                   headers=h, timeout=30)
        r = httpx.get(server.url + "/logs", params={"cluster": "mine"}, timeout=30)
        assert r.status_code == 401
