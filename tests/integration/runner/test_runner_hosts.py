"""Two hosts: two network namespaces joined by a veth pair, one runner in each.

Host A (10.N.M.1) runs the registry and the runner that gets the master; host B
(10.N.M.2) runs the runner that gets the two workers, which connect to the master across
the virtual network; the launcher, on host B too, gets its ten results through the master.
The addresses exist only inside the two namespaces. Needs root and ``ip netns``; the test
is skipped, saying why, where namespaces cannot be created.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runner_lab import Process, child_env, wait_until

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "applications"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)


class Hosts:
    """Namespaces ``a`` and ``b`` with one veth between them."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.a, self.b = f"pylm-{tag}-a", f"pylm-{tag}-b"
        net = f"10.{random.randint(64, 250)}.{random.randint(1, 250)}"
        self.ip_a, self.ip_b = f"{net}.1", f"{net}.2"
        self._veth_a, self._veth_b = f"pv{tag}a", f"pv{tag}b"
        self.created: list[str] = []

    def build(self) -> None:
        for ns in (self.a, self.b):
            self._check(_ip("netns", "add", ns))
            self.created.append(ns)
        self._check(_ip("link", "add", self._veth_a, "netns", self.a, "type", "veth",
                        "peer", "name", self._veth_b, "netns", self.b))
        for ns, veth, address in ((self.a, self._veth_a, self.ip_a),
                                  (self.b, self._veth_b, self.ip_b)):
            self._check(_ip("-n", ns, "addr", "add", f"{address}/24", "dev", veth))
            self._check(_ip("-n", ns, "link", "set", veth, "up"))
            self._check(_ip("-n", ns, "link", "set", "lo", "up"))

    def remove(self) -> None:
        for ns in self.created:
            _ip("netns", "del", ns)

    @staticmethod
    def _check(done: subprocess.CompletedProcess[str]) -> None:
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(done.args)}: {done.stderr.strip()}")

    def run_in(self, ns: str, argv: list[str], directory: Path, name: str) -> Process:
        return Process(["ip", "netns", "exec", ns, *argv], directory, name)

    def python_in(self, ns: str, code: str, *args: str) -> str:
        done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code, *args],
                              capture_output=True, text=True, env=child_env(), timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout


_HTTP = """
import json, sys, urllib.request
method, url, token, body = sys.argv[1:5]
request = urllib.request.Request(url, data=body.encode() if body else None, method=method,
    headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
print(urllib.request.urlopen(request, timeout=15).read().decode())
"""


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("two-host test needs root and iproute2 (ip netns)")
    probe = f"pylm-probe-{uuid.uuid4().hex[:6]}"
    created = _ip("netns", "add", probe)
    if created.returncode != 0:
        pytest.skip(f"ip netns is not permitted here: {created.stderr.strip()}")
    _ip("netns", "del", probe)
    built = Hosts()
    try:
        built.build()
        yield built
    finally:
        built.remove()


def test_master_on_one_host_workers_on_another_client_gets_all_results(hosts: Hosts,
                                                                         tmp_path: Path):
    processes: list[Process] = []
    try:
        db = f"sqlite:///{tmp_path / 'registry.db'}"
        added = subprocess.run(
            [sys.executable, "-m", "pylm.registry", "user", "add", "admin", "--admin",
             "--db", db], input="secret-password\n", capture_output=True, text=True,
            env=child_env(), timeout=60)
        assert added.returncode == 0, added.stderr
        admin = added.stdout.strip().splitlines()[-1]
        registry = hosts.run_in(hosts.a, [sys.executable, "-m", "pylm.registry", "--db", db,
                                          "--host", hosts.ip_a, "--port", "0",
                                          "--heartbeat-interval", "0.5"], tmp_path, "registry")
        processes.append(registry)
        port = wait_until(lambda: re.findall(r"listening on http://[\d.]+:(\d+)",
                                             registry.out()), what="the registry")[0]
        url = f"http://{hosts.ip_a}:{port}"

        def call(method: str, path: str, body: Any = None) -> Any:
            text = hosts.python_in(hosts.b, _HTTP, method, url + path, admin,
                                   json.dumps(body) if body is not None else "")
            return json.loads(text)

        config = (f"[Master]\nScript = {sys.executable} {EXAMPLES / 'master.py'} --name test\n"
                  "--pull = _1\n--pub = _2\n--workerpull = _3\n--workerpush = _4\n--db = _5\n\n"
                  f"[Worker]\nScript = {sys.executable} {EXAMPLES / 'worker.py'}\n--db = _5\n"
                  "Connected = Master\nRole = Worker\nReplicas = 2\n")
        cluster = call("POST", "/api/v1/clusters", {"config": config})["key"]
        for ns, ip, processors, name in ((hosts.a, hosts.ip_a, 1, "host-a"),
                                         (hosts.b, hosts.ip_b, 2, "host-b")):
            node_file = tmp_path / f"{name}.ini"
            node_file.write_text(f"[DEFAULT]\nName = {name}\nIp = {ip}\n"
                                 f"Processors = {processors}\nPorts_from = 5555\n")
            runner = hosts.run_in(ns, [sys.executable, "-m", "pylm.runner", "--registry", url,
                                       "--cluster", cluster, "--config", str(node_file),
                                       "--spool", str(tmp_path / f"{name}.spool"),
                                       "--grace", "2"], tmp_path, name)
            processes.append(runner)
            wait_until(lambda r=runner: "runs " in r.err(), what=f"{name} to join")

        status = wait_until(
            lambda: (s := call("GET", f"/api/v1/clusters/{cluster}/status"))["ready"] and all(
                i["state"] == "running" for i in s["instances"]) and s,
            what="a ready cluster with every instance running")
        placed = {i["instance"]: i["node"] for i in status["instances"]}
        assert placed == {"Master.0": "host-a", "Worker.0": "host-b", "Worker.1": "host-b"}
        db_address = status["sockets"]["_5"]
        assert db_address == f"tcp://{hosts.ip_a}:5559"

        launcher = hosts.run_in(hosts.b, [sys.executable, str(EXAMPLES / "launcher.py"),
                                          "--server", "test", "--function", "foo",
                                          "--db", db_address, "--timeout", "30"],
                                tmp_path, "launcher")
        processes.append(launcher)
        assert launcher.wait(90) == 0, launcher.err()
        results = [line for line in launcher.out().splitlines() if "processed a message" in line]
        assert len(results) == 10

        logs = call("GET", f"/api/v1/clusters/{cluster}/logs?order=asc&limit=1000")["lines"]
        assert {line["node"] for line in logs if line["stream"] != "event"} >= {"host-a"}
        assert any(line["node"] == "host-b" for line in logs)
    finally:
        for process in reversed(processes):
            process.signal(signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.end()
