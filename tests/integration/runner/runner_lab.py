"""Real processes for the runner's integration tests: a registry, runners, components.

Everything binds 127.0.0.1 with ports the OS assigns; every wait polls with a deadline;
every process started here is ended by pid when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[3] / "src"
DEADLINE = 30.0


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_until(predicate: Callable[[], Any], timeout: float = DEADLINE, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(0.05)


class Process:
    """A started process whose output goes to files."""

    def __init__(self, argv: list[str], directory: Path, name: str, **kwargs: Any) -> None:
        self.out_path = directory / f"{name}.out"
        self.err_path = directory / f"{name}.err"
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                          env=child_env(), **kwargs)
        self.pid = self.popen.pid

    def out(self) -> str:
        return self.out_path.read_text(errors="replace")

    def err(self) -> str:
        return self.err_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout: float = DEADLINE) -> int:
        return self.popen.wait(timeout)

    def end(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


class Registry:
    """A real ``pylm-registry`` on an SQLite file, with an administrator and its key."""

    def __init__(self, directory: Path, processes: list[Process]) -> None:
        self.directory = directory
        self.db = f"sqlite:///{directory / 'registry.db'}"
        self._processes = processes
        self.port = 0
        self.process: Process | None = None
        self._starts = 0
        added = subprocess.run(
            [sys.executable, "-m", "pylm.registry", "user", "add", "admin", "--admin",
             "--db", self.db],
            input="secret-password\n", capture_output=True, text=True, env=child_env(), timeout=60,
        )
        assert added.returncode == 0, added.stderr
        self.key = added.stdout.strip().splitlines()[-1]
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start (or start again, on the same port and database)."""
        process = Process(
            [sys.executable, "-m", "pylm.registry", "--db", self.db, "--host", "127.0.0.1",
             "--port", str(self.port), "--heartbeat-interval", "0.5", "--lost-after", "3",
             "--log-level", "warning"],
            self.directory, f"registry-{self._starts}")
        self._starts += 1
        self._processes.append(process)
        self.process = process
        found = wait_until(
            lambda: re.findall(r"listening on http://127\.0\.0\.1:(\d+)", process.out())
            or process.popen.poll() is not None,
            what="the registry to listen")
        assert isinstance(found, list), f"registry did not start: {process.err()}"
        self.port = int(found[-1])

    def stop(self) -> None:
        assert self.process is not None
        self.process.signal(signal.SIGTERM)
        self.process.wait()

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"Bearer {token or self.key}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=15) as answer:
            return json.loads(answer.read() or b"null")

    def create_cluster(self, config: str) -> str:
        return self.call("POST", "/api/v1/clusters", {"config": config})["key"]

    def status(self, cluster: str) -> dict[str, Any]:
        return self.call("GET", f"/api/v1/clusters/{cluster}/status")

    def instance(self, cluster: str, name: str) -> dict[str, Any]:
        found = [i for i in self.status(cluster)["instances"] if i["instance"] == name]
        return found[0] if found else {"state": None, "pid": None, "restarts": 0}

    def logs(self, cluster: str, **filters: str) -> list[dict[str, Any]]:
        """Every line matching ``filters``, oldest first (follows the cursor)."""
        lines: list[dict[str, Any]] = []
        query = {"order": "asc", "limit": "1000", **filters}
        while True:
            page = self.call(
                "GET", f"/api/v1/clusters/{cluster}/logs?{urllib.parse.urlencode(query)}")
            lines += page["lines"]
            if not page["next_cursor"]:
                return lines
            query["cursor"] = page["next_cursor"]

    def delete(self, cluster: str) -> None:
        self.call("DELETE", f"/api/v1/clusters/{cluster}")


class Lab:
    """What one test starts: a registry, runners and the scripts of their components."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.processes: list[Process] = []
        self.registry = Registry(directory, self.processes)

    def script(self, name: str, text: str) -> str:
        """Write a component script; returns the ``Script`` command line running it."""
        path = self.directory / name
        path.write_text(text)
        return f"{sys.executable} {path}"

    def runner(self, cluster: str, *options: str, name: str = "runner",
               spool: str | None = None) -> Process:
        argv = [sys.executable, "-m", "pylm.runner", "--registry", self.registry.url,
                "--cluster", cluster, "--spool", spool or str(self.directory / f"{name}.spool"),
                "--grace", "2", "--flush-timeout", "5", *options]
        process = Process(argv, self.directory, name)
        self.processes.append(process)
        return process

    def end(self) -> None:
        """Runners first, politely (they stop their components), then anything left."""
        for process in reversed(self.processes):
            if process.popen.poll() is None and "pylm.runner" in process.popen.args:
                process.signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(15)
        for process in reversed(self.processes):
            process.end()


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
