#!/usr/bin/env python3
"""How many lines per second one runner forwards, and the CPU it takes, against the original.

Workload: 4 components on one node, each writing ``--lines`` numbered lines (about 80 bytes)
to its stdout as fast as it can (through a 64 KiB buffer, so the byte stream is the same
whatever the runner sets in the environment). Two figures per runner:

- *drained*: lines/s until the four components had written everything, i.e. until the
  runner had read every pipe to the end (a runner that reads slowly slows its components);
- *forwarded*: lines stored per second until the registry's database held every line,
  or until the last line that ever arrived (end to end: runner, HTTP, registry); *lost*
  counts the lines that never arrived (the original runner drops lines under load: its
  sender clears the shared list after sending, so lines appended meanwhile are lost);

and the runner's CPU share over the forwarded interval (its own user+system time divided
by the wall time; 100 % = one core). Each side is measured with its own registry: the new
runner against ``pylm-registry`` (SQLite file), the original ``pylm-runner`` 0.4.14 from the
legacy virtualenv (``scripts/legacy-venv``) against the original ``pylm-registry`` (SQLite
file). The original registry listens on every interface, so, when ``ip netns`` is allowed,
the original side runs in a private network namespace that only has a loopback.

    PYTHONPATH=src python benchmarks/runner_bench.py [--lines 50000] [--skip-legacy]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = 4
TIMEOUT = 900.0
STALL = 10.0  # seconds with no new line and an idle registry that end a measurement

WRITER = r"""
import os, sys
count, name = int(sys.argv[1]), sys.argv[2]
out = open(1, "w", buffering=65536, closefd=False)
pad = "x" * 40
for i in range(count):
    out.write("%s line %08d %s\n" % (name, i, pad))
out.flush()
open(sys.argv[3], "w").close()
import time
while True:
    time.sleep(60)
"""


@dataclass
class Result:
    label: str
    lines: int
    stored: int
    drained_s: float
    forwarded_s: float
    cpu_s: float

    def row(self) -> str:
        return (f"| {self.label} | {self.lines:,} | {self.lines - self.stored:,} | "
                f"{self.lines / self.drained_s:,.0f} | {self.stored / self.forwarded_s:,.0f} | "
                f"{100 * self.cpu_s / self.forwarded_s:.0f} % | "
                f"{1e6 * self.cpu_s / max(1, self.stored):.1f} |")


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.05)


def count_rows(db: Path, sql: str) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                                                timeout=5)) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return 0


def config_text(python: str, writer: Path, lines: int, marks: Path) -> str:
    return "\n".join(
        f"[C{i}]\nScript = {python} {writer} {lines} c{i} {marks / f'c{i}.done'}\n"
        for i in range(COMPONENTS))


class Processes:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], log: Path, **kwargs: object) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=kwargs.pop("stdin", subprocess.DEVNULL),
                                       **kwargs)  # type: ignore[call-overload]
        self.started.append(process)
        return process

    def end_all(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                with contextlib.suppress(psutil.Error):
                    for child in psutil.Process(process.pid).children(recursive=True):
                        child.kill()
                process.kill()
                process.wait(10)


def measure(runner: subprocess.Popen[bytes], registry: subprocess.Popen[bytes], marks: Path,
            total: int, db: Path, count_sql: str, label: str, started: float) -> Result:
    """Wait until every line is stored, or until nothing more arrived and the registry sat
    idle for ``STALL`` s after the writers finished (the original runner can lose lines,
    which then never come; its registry stores a batch in one long transaction)."""
    runner_process, registry_process = psutil.Process(runner.pid), psutil.Process(registry.pid)
    wait_for(lambda: len(list(marks.glob("*.done"))) == COMPONENTS, TIMEOUT, "the writers")
    drained = time.monotonic() - started
    stored, last_change, cpu = 0, time.monotonic(), 0.0
    busy_cpu, last_busy = _cpu(registry_process), time.monotonic()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        count = count_rows(db, count_sql)
        now = time.monotonic()
        if count != stored:
            stored, last_change = count, now
            cpu = _cpu(runner_process)
        registry_cpu = _cpu(registry_process)
        if registry_cpu - busy_cpu >= 0.02:  # the registry is working (20 % of a 0.1 s poll)
            last_busy = now
        busy_cpu = registry_cpu
        if stored >= total or now - max(last_change, last_busy) > STALL:
            break
        time.sleep(0.1)
    if not stored:  # nothing ever arrived: report the CPU spent until we gave up
        cpu, last_change = _cpu(runner_process), time.monotonic()
    return Result(label, total, stored, drained, last_change - started, cpu)


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def run_new(work: Path, lines: int, quiet: bool, profile: Path | None = None) -> Result:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    processes = Processes()
    variant = "quiet" if quiet else "echo"
    db = work / f"new-registry-{variant}.db"
    marks = work / ("marks-quiet" if quiet else "marks-echo")
    marks.mkdir()
    try:
        added = subprocess.run([sys.executable, "-m", "pylm.registry", "user", "add", "admin",
                                "--admin", "--db", f"sqlite:///{db}"], input=b"bench-pw\n",
                               capture_output=True, env=env, timeout=120, check=True)
        key = added.stdout.decode().strip().splitlines()[-1]
        log = work / f"new-registry-{variant}.log"
        registry = processes.start([sys.executable, "-m", "pylm.registry", "--db",
                                    f"sqlite:///{db}", "--port", "0", "--log-level", "warning"],
                                   log, env=env)
        port = wait_for(lambda: re.findall(r"listening on http://127\.0\.0\.1:(\d+)",
                                           log.read_text()), 60, "the registry")[0]
        url = f"http://127.0.0.1:{port}"
        body = json.dumps({"config": config_text(sys.executable, work / "writer.py", lines,
                                                 marks)}).encode()
        request = urllib.request.Request(f"{url}/api/v1/clusters", data=body, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        cluster = json.loads(urllib.request.urlopen(request, timeout=30).read())["key"]
        node = work / "node.ini"
        node.write_text(f"[DEFAULT]\nName = bench\nProcessors = {COMPONENTS}\n")
        python = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [
            sys.executable]
        argv = [*python, "-m", "pylm.runner", "--registry", url, "--cluster", cluster,
                "--config", str(node), "--spool", str(work / f"spool-{variant}")]
        if quiet:
            argv.append("--quiet")
        started = time.monotonic()
        with open(os.devnull, "wb") as devnull:
            runner = subprocess.Popen(argv, stdout=devnull, stderr=open(  # noqa: SIM115
                work / f"new-runner-{variant}.log", "ab"), env=env)
        processes.started.append(runner)
        label = "pylm-runner (new" + (", --quiet)" if quiet else ", echo to /dev/null)")
        return measure(runner, registry, marks, lines * COMPONENTS, db,
                       "SELECT count(*) FROM log_lines WHERE stream = 'stdout'", label, started)
    finally:
        for process in reversed(processes.started[1:]):  # the runner first
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes.started[1:]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(30)
        processes.end_all()


@contextlib.contextmanager
def private_network() -> Iterator[list[str]]:
    """A command prefix running in a fresh network namespace (loopback only), if allowed."""
    name = f"pylm-bench-{uuid.uuid4().hex[:6]}"
    if os.geteuid() != 0 or shutil.which("ip") is None or subprocess.run(
            ["ip", "netns", "add", name], capture_output=True).returncode != 0:
        print("note: no private network namespace; the original registry listens on every "
              "interface", file=sys.stderr)
        yield []
        return
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield ["ip", "netns", "exec", name]
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def run_legacy(work: Path, lines: int, legacy_bin: Path) -> Result:
    processes = Processes()
    db = work / "legacy-registry.db"  # keep "test" out of argv: the original checks for it
    marks = work / "marks-legacy"
    marks.mkdir()
    with private_network() as prefix:
        try:
            port = 8080 if prefix else _free_port()
            log = work / "legacy-registry.log"
            processes.start([*prefix, str(legacy_bin / "pylm-registry"), "--db",
                             f"sqlite:///{db}", "--port", str(port), "--sync"], log,
                            stdin=subprocess.PIPE)
            registry = processes.started[-1]
            assert registry.stdin is not None
            registry.stdin.write(b"bench-pw\n")
            registry.stdin.close()
            key = wait_for(lambda: count_rows(db, "SELECT count(*) FROM users") and
                           _first(db, "SELECT key FROM users WHERE admin = 1"), 120,
                           "the original admin")
            url = f"http://127.0.0.1:{port}"
            query = urllib.parse.urlencode({"method": "new_cluster", "description": config_text(
                str(legacy_bin / "python"), work / "writer.py", lines, marks)})
            cluster = _in_network(prefix, f"{url}/cluster?{query}", key)
            node = work / "legacy-node.ini"
            node.write_text(f"[DEFAULT]\nName = bench\nIp = 127.0.0.1\n"
                            f"Processors = {COMPONENTS}\nPorts_from = 5555\n")
            started = time.monotonic()
            runner = processes.start([*prefix, str(legacy_bin / "pylm-runner"), "--registry",
                                      url, "--cluster", cluster, "--config", str(node)],
                                     work / "legacy-runner.log")
            return measure(runner, registry, marks, lines * COMPONENTS, db,
                           "SELECT count(*) FROM cluster_logs", "pylm-runner 0.4.14 (original)",
                           started)
        finally:
            processes.end_all()


def _first(db: Path, sql: str) -> str | None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            row = conn.execute(sql).fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _in_network(prefix: list[str], url: str, key: str) -> str:
    """GET ``url`` from inside the namespace (retrying until the server is up)."""
    code = ("import sys, urllib.request; r = urllib.request.Request(sys.argv[1], headers="
            "{'Key': sys.argv[2]}); print(urllib.request.urlopen(r, timeout=30).read()"
            ".decode())")

    def attempt() -> str | None:
        done = subprocess.run([*prefix, sys.executable, "-c", code, url, key],
                              capture_output=True, text=True, timeout=60)
        return done.stdout.strip() if done.returncode == 0 else None

    return str(wait_for(attempt, 120, "the original registry"))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=50_000, help="lines per component")
    parser.add_argument("--skip-legacy", action="store_true")
    parser.add_argument("--skip-new", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--profile", type=Path, help="cProfile the new runner (quiet run) "
                        "into this file")
    parser.add_argument("--legacy-bin", type=Path, default=ROOT / ".bench" / "legacy" / "bin")
    args = parser.parse_args()
    results: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="pylm-bench-"))
    try:
        if args.keep:
            print(f"work directory (kept): {work}", file=sys.stderr)
        (work / "writer.py").write_text(WRITER)
        if not args.skip_new:
            results.append(run_new(work, args.lines, quiet=True, profile=args.profile))
            results.append(run_new(work, args.lines, quiet=False))
        if not args.skip_legacy:
            if not (args.legacy_bin / "pylm-runner").exists():
                print(f"no original runner in {args.legacy_bin}: run scripts/legacy-venv",
                      file=sys.stderr)
                return 2
            results.append(run_legacy(work, args.lines, args.legacy_bin))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{COMPONENTS} components x {args.lines:,} lines, {os.cpu_count()} cores")
    print("| runner | lines | lost | drained lines/s | forwarded lines/s | runner CPU "
          "| runner CPU µs/line |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())
    if len(results) == 3 and results[2].stored:
        new, legacy = results[1], results[2]
        new_rate = new.stored / new.forwarded_s
        legacy_rate = legacy.stored / legacy.forwarded_s
        cpu_ratio = (new.cpu_s / new.stored) / (legacy.cpu_s / max(1, legacy.stored))
        print(f"new/original: drained x{legacy.drained_s / new.drained_s:.2f} faster, "
              f"forwarded x{new_rate / legacy_rate:.2f} faster, runner CPU per stored line "
              f"x{cpu_ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
