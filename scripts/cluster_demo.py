#!/usr/bin/env python3
"""The main job: the registry guide's scenario, for real, on this machine.

1. a registry on its embedded default database (a SQLite file in a fresh data directory);
2. a user, and the example cluster (examples/applications: a master and two workers)
   submitted to the registry;
3. one runner that joins, gets the commands with the addresses the registry assigned, and
   launches them;
4. the launcher, which prints its ten results through the master;
5. the cluster status (ready) and the last log lines of each component, read back from
   the registry.

Everything started here is stopped at the end (``--keep`` leaves the registry running and
prints its URL and how to log in).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pylm.registry.client import RegistryClient

ROOT = Path(__file__).resolve().parents[1]
APPS = ROOT / "examples" / "applications"
PY = sys.executable
USER = "demo"

CLUSTER = """\
[Master]
Script = {py} {apps}/master.py --name test
--pull = _1
--pub = _2
--workerpull = _3
--workerpush = _4
--db = _5
Role = Master

[Worker]
Script = {py} {apps}/worker.py
--db = _5
Connected = Master
Role = Worker
Replicas = 2
"""

NODE = """\
[DEFAULT]
Name = demo-node
Ip = 127.0.0.1
Processors = 3
Ports_from = {ports_from}
"""


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def free_port_range(count: int) -> int:
    """The first of ``count`` consecutive ports that are free on 127.0.0.1 right now."""
    for _ in range(200):
        base = secrets.randbelow(20000) + 30000
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError("no free range of ports on 127.0.0.1")


def wait_until(what: str, check, timeout: float = 60.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true",
                        help="leave the registry running at the end (Ctrl-C stops it)")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="pylm-demo-"))
    env_home = {"PYLM_REGISTRY_HOME": str(home / "registry")}
    started: list[subprocess.Popen] = []

    def start(*command: str, **popen) -> subprocess.Popen:
        proc = subprocess.Popen([PY, *command], env={**_environ(), **env_home}, **popen)
        started.append(proc)
        return proc

    try:
        say(f"A registry on its default database (a SQLite file in {home / 'registry'})")
        password = secrets.token_urlsafe(12)
        added = subprocess.run([PY, "-m", "pylm.registry", "user", "add", USER],
                               input=password + "\n", capture_output=True, text=True,
                               env={**_environ(), **env_home}, check=True, timeout=60)
        api_key = added.stdout.strip().splitlines()[-1]
        print(f"user {USER!r} added; API key {api_key[:6]}…")
        registry = start("-m", "pylm.registry", "serve", "--port", "0",
                         "--heartbeat-interval", "1", stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        url = _read_until(registry, r"listening on (http://\S+)").group(1)
        print(f"registry at {url}")

        say("The example cluster (a master and two workers) submitted to the registry")
        config = CLUSTER.format(py=PY, apps=APPS)
        print(config)
        with RegistryClient(url, api_key) as client:
            cluster = client.create_cluster(config, alias="registry guide example")["key"]
            print(f"cluster key {cluster}")

            say("One runner joins and launches what the registry placed on its node")
            node = home / "node.ini"
            node.write_text(NODE.format(ports_from=free_port_range(5)))
            start("-m", "pylm.runner", "--registry", url, "--cluster", cluster,
                  "--config", str(node), "--spool", str(home / "spool"), "--quiet")
            status = wait_until("the cluster to be ready and running",
                                lambda: _running(client.status(cluster)))
            wait_until("both workers to find the master", lambda: len(client.logs(
                cluster, q="Got worker pull address")["lines"]) >= 2)
            db = status["sockets"]["_5"]
            print(f"ready; the master's cache service is at {db}")

            say("The launcher: ten messages through the master, ten results")
            subprocess.run([PY, str(APPS / "launcher.py"), "--server", "test",
                            "--function", "foo", "--db", db], check=True, timeout=120)

            say("The cluster status, read back from the registry")
            _print_status(client.status(cluster))
            say("The last log lines of each component, read back from the registry")
            for instance in sorted(i["instance"] for i in status["instances"]):
                lines = client.logs(cluster, instance=instance, limit=4)["lines"]
                print(f"{instance}:")
                for line in reversed(lines):
                    print(f"   {line['time']} [{line['stream']}] {line['text']}")
        if args.keep:
            say(f"The registry stays up at {url}")
            print(f"log in as {USER!r} with password {password!r}; "
                  f"API key {api_key}\nCtrl-C stops it.")
            with contextlib.suppress(KeyboardInterrupt):
                registry.wait()
        return 0
    finally:
        # The runner first (it stops its components and ships their last lines), then the
        # registry.
        for proc in reversed(started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        print("\nstopped the runner (and its components) and the registry")
        shutil.rmtree(home, ignore_errors=True)


def _environ() -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1")


def _read_until(proc: subprocess.Popen, pattern: str, timeout: float = 60.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(pattern, line)
        if match:
            return match
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"the registry did not print {pattern!r}")


def _running(status: dict) -> dict | None:
    instances = status.get("instances", [])
    if status.get("ready") and len(instances) == 3 and all(
        i.get("state") == "running" for i in instances
    ):
        return status
    return None


def _print_status(status: dict) -> None:
    print(f"ready: {status['ready']}")
    for name, service in status["services"].items():
        print(f"  {name}: {service['placed']} of {service['needed']} placed")
    for i in status["instances"]:
        print(f"  {i['instance']:<10} on {i['node']:<10} {i['state']:<8} {i['command']}")


if __name__ == "__main__":
    sys.exit(main())
