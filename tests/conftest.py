"""Fixtures shared by every test: real processes that are always cleaned up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import zmq

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def python_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python process that imports this checkout's pylm."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Proc:
    """A child process whose stdout and stderr go to files the test can read."""

    def __init__(self, argv: list[str], workdir: Path, name: str, env: dict[str, str]):
        self.argv = argv
        self.name = name
        self.out_path = workdir / f"{name}.out"
        self.err_path = workdir / f"{name}.err"
        self._out = open(self.out_path, "wb")  # noqa: SIM115 - closed in stop()
        self._err = open(self.err_path, "wb")  # noqa: SIM115
        self.popen = subprocess.Popen(
            argv, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """Poll the output until ``pattern`` appears; fail with the output otherwise."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.stdout) or regex.search(self.stderr)
            if match:
                return match
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self.popen.returncode}) before printing {pattern!r}:"
                    f"\n{self.stdout}\n{self.stderr}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} did not print {pattern!r} within {timeout} s:"
                    f"\n{self.stdout}\n{self.stderr}"
                )
            time.sleep(0.02)

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout: float = 15.0) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self._out.close()
        self._err.close()


class Procs:
    """Starts processes for one test and ends every one of them afterwards."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Proc] = []

    def start(self, argv: list[str], name: str | None = None, **env: str) -> Proc:
        name = name or f"proc{len(self.started)}"
        proc = Proc(argv, self.workdir, name, python_env(**env))
        self.started.append(proc)
        return proc

    def python(self, *args: str, name: str | None = None, **env: str) -> Proc:
        return self.start([sys.executable, *args], name=name, **env)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves a ZeroMQ socket open or a child process running."""
    context = zmq.Context.instance()
    before = {id(s) for s in context._sockets if not s.closed}
    yield
    leaked = [s for s in context._sockets if not s.closed and id(s) not in before]
    for sock in leaked:
        sock.close(linger=0)
    deadline = time.monotonic() + 5
    children = psutil.Process().children(recursive=True)
    while children and time.monotonic() < deadline:
        time.sleep(0.05)
        children = [c for c in children if c.is_running() and c.status() != "zombie"]
    for child in children:
        child.kill()
    assert not leaked, f"{len(leaked)} ZeroMQ socket(s) left open"
    assert not children, f"child processes left running: {[c.pid for c in children]}"


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    manager = Procs(tmp_path)
    try:
        yield manager
    finally:
        manager.stop_all()


def legacy_python() -> str:
    """The interpreter of the virtualenv holding the original pylm 0.14.4 (scripts/legacy-venv)."""
    default = ROOT / ".bench" / "legacy" / "bin" / "python"
    path = os.environ.get("PYLM_LEGACY_PYTHON") or str(default)
    if not Path(path).exists():
        pytest.fail(f"the original pylm is not installed at {path}: run scripts/legacy-venv")
    return path
