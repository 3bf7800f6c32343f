"""The ``pylm`` command and the Python client against a real registry."""

import queue
import subprocess
import sys
import threading

import pytest
from registry_proc import add_user, env

from pylm.registry.client import RegistryClient, RegistryError

CONFIG = "[Master]\nScript = m\n--p = _1\n\n[Worker]\nScript = w\n--p = _1\nConnected = Master\n"


def pylm(*args, environ=None, timeout=60):
    e = env()
    e.pop("PYLM_KEY", None)
    e.pop("PYLM_REGISTRY", None)
    e.update(environ or {})
    return subprocess.run([sys.executable, "-m", "pylm.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=e)


def test_cluster_commands_with_flags_and_environment(server, tmp_path):
    key = add_user(server.db, "alice")
    ini = tmp_path / "cluster.ini"
    ini.write_text(CONFIG)
    done = pylm("--registry", server.url, "--key", key, "cluster", "create", str(ini),
                "--alias", "demo")
    assert done.returncode == 0, done.stderr
    cluster = done.stdout.strip()
    environ = {"PYLM_REGISTRY": server.url, "PYLM_KEY": key}
    listing = pylm("cluster", "list", environ=environ)
    assert cluster in listing.stdout and "demo" in listing.stdout
    chosen = pylm("cluster", "create", str(ini), "--key", "team", environ=environ)
    assert chosen.stdout.strip() == "team"
    with RegistryClient(server.url, cluster) as runner:
        runner.join(cluster, "n1", "127.0.0.1", 2, 7000)
    status = pylm("cluster", "status", cluster, environ=environ)
    assert "ready: yes" in status.stdout and "_1 = tcp://127.0.0.1:7000" in status.stdout
    assert pylm("cluster", "reset", cluster, environ=environ).stdout.strip() == cluster
    assert "ready: no" in pylm("cluster", "status", cluster, environ=environ).stdout
    assert pylm("cluster", "delete", cluster, environ=environ).returncode == 0
    gone = pylm("cluster", "status", cluster, environ=environ)
    assert gone.returncode == 1 and "cluster not found" in gone.stderr


def test_errors_are_short_messages(server, tmp_path):
    key = add_user(server.db, "alice")
    bad = tmp_path / "bad.ini"
    bad.write_text("[W]\nScript = w\nReplicas = none\n")
    environ = {"PYLM_REGISTRY": server.url, "PYLM_KEY": key}
    done = pylm("cluster", "create", str(bad), environ=environ)
    assert done.returncode == 1 and "[W]" in done.stderr and "Replicas" in done.stderr
    assert "Traceback" not in done.stderr
    missing = pylm("cluster", "list", environ={"PYLM_REGISTRY": server.url})
    assert missing.returncode == 2 and "PYLM_KEY" in missing.stderr
    wrong = pylm("cluster", "list", environ={"PYLM_REGISTRY": server.url, "PYLM_KEY": "bad"})
    assert wrong.returncode == 1 and "invalid API key" in wrong.stderr


def test_logs_and_follow(server, tmp_path):
    key = add_user(server.db, "alice")
    with RegistryClient(server.url, key) as client:
        cluster = client.create_cluster(CONFIG)["key"]
        client.send_logs(cluster, "s", [{"service": "Master", "instance": "Master.0",
                                         "seq": i, "text": f"old {i}"} for i in range(3)])
        client.send_logs(cluster, "s", [{"service": "Worker", "instance": "Worker.0",
                                         "seq": 0, "text": "worker says hi"}])
        environ = {"PYLM_REGISTRY": server.url, "PYLM_KEY": key}
        done = pylm("logs", cluster, "--service", "Master", environ=environ)
        assert [line.split(": ", 1)[1] for line in done.stdout.splitlines()] == [
            "old 0", "old 1", "old 2"]
        e = env()
        e.update(environ)
        follower = subprocess.Popen(
            [sys.executable, "-m", "pylm.cli", "logs", cluster, "--service", "Master",
             "--follow", "-n", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=e)
        printed: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [printed.put(x) for x in follower.stdout],
                         daemon=True).start()
        try:
            assert printed.get(timeout=30).rstrip().endswith("old 2")
            client.send_logs(cluster, "s", [
                {"service": "Worker", "instance": "Worker.0", "seq": 10, "text": "not me"},
                {"service": "Master", "instance": "Master.0", "seq": 10, "text": "live line"}])
            assert printed.get(timeout=30).rstrip().endswith("Master.0 stdout: live line")
        finally:
            follower.terminate()
            follower.wait(timeout=15)


def test_client_pages_through_logs_and_raises_registry_errors(server):
    key = add_user(server.db, "alice")
    with RegistryClient(server.url, key) as client:
        cluster = client.create_cluster(CONFIG, alias="x")["key"]
        client.send_logs(cluster, "s", [{"seq": i, "text": str(i)} for i in range(250)])
        assert [int(x["text"]) for x in client.iter_logs(cluster, order="asc", limit=100)] == \
            list(range(250))
        with pytest.raises(RegistryError) as info:
            client.status("nope")
        assert info.value.status == 404
