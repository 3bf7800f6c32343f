"""Helpers that start real registry processes on 127.0.0.1 (port chosen by the OS)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[3] / "src")
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
START_TIMEOUT = 60.0


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    return e


def registry_cli(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pylm.registry", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=env())


def add_user(db: str, name: str, password: str = "a password", admin: bool = False) -> str:
    args = ["user", "add", name, "--db", db] + (["--admin"] if admin else [])
    done = registry_cli(*args, stdin=password + "\n")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    url: str
    db: str
    process: subprocess.Popen
    log_path: Path


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextmanager
def registry_server(db: str, log_path: Path, *extra: str) -> Iterator[Server]:
    """Start ``python -m pylm.registry --port 0`` and wait for its announced URL."""
    log_file = open(log_path, "w")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [sys.executable, "-m", "pylm.registry", "--db", db, "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=log_file, text=True, env=env())
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        url = None
        while url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None:
                raise AssertionError("registry did not start: " + log_path.read_text()[-2000:])
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line.startswith("pylm-registry listening on "):
                url = line.split()[-1]
        yield Server(url, db, process, log_path)
    finally:
        _stop(process)
        log_file.close()


def legacy_interpreter() -> str | None:
    """``$PYLM_LEGACY_PYTHON`` or ``<repo>/.bench/legacy/bin/python``, if it exists."""
    path = os.environ.get("PYLM_LEGACY_PYTHON") or str(
        Path(SRC).parent / ".bench" / "legacy" / "bin" / "python")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def run_legacy(python: str, code: str, *args: str, timeout: float = 120
               ) -> subprocess.CompletedProcess:
    """Run ``code`` with the original package's interpreter (never our src on its path)."""
    e = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([python, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env=e)
