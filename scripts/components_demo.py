#!/usr/bin/env python3
"""The registry guide's scenario without the registry: a master, two workers and the
launcher from examples/applications, each a real process, started and stopped here.

The master binds OS-assigned ports; the workers and the launcher find everything through
its cache address, read from the master's log. Exits with the launcher's status.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

APPS = Path(__file__).resolve().parents[1] / "examples" / "applications"
ANY = "tcp://127.0.0.1:*"


def wait_for(proc: subprocess.Popen, pattern: str, timeout: float = 30.0) -> re.Match[str]:
    """Read the process's output line by line until ``pattern`` appears (echoing it)."""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"  | {line}", end="")
        match = re.search(pattern, line)
        if match:
            return match
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"{proc.args[1]} did not print {pattern!r} in time")


def main() -> int:
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-u", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        started.append(proc)
        return proc

    try:
        print("Starting the master (examples/applications/master.py --name test)")
        master = start(str(APPS / "master.py"), "--name", "test", "--pull", ANY, "--pub", ANY,
                       "--workerpull", ANY, "--workerpush", ANY, "--db", ANY)
        db = wait_for(master, r"Cache listening on (tcp://\S+)").group(1)
        for n in (1, 2):
            print(f"Starting worker {n} (examples/applications/worker.py --db {db})")
            wait_for(start(str(APPS / "worker.py"), "--db", db), "Got worker pull address")
        print("Running the launcher (examples/applications/launcher.py --server test "
              "--function foo)")
        launcher = subprocess.run(
            [sys.executable, str(APPS / "launcher.py"), "--server", "test", "--function", "foo",
             "--db", db], timeout=120, check=False,
        )
        return launcher.returncode
    finally:
        for proc in reversed(started):
            proc.send_signal(signal.SIGTERM)
        for proc in reversed(started):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("Stopped the master and the workers")


if __name__ == "__main__":
    sys.exit(main())
