"""Every example runs, as real processes, and prints what it promises."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"
ANY = "tcp://127.0.0.1:*"
MASTER_FLAGS = ["--pull", ANY, "--pub", ANY, "--workerpull", ANY, "--workerpush", ANY,
                "--db", ANY]
LISTEN = r"Cache listening on (tcp://\S+)"


def run_client(procs, script: Path, *args: str) -> str:
    client = procs.python(str(script), *args, name=script.parent.name + "-client")
    assert client.wait(timeout=60) == 0, client.stdout + client.stderr
    return client.stdout


def start_master(procs, script: Path, *args: str) -> str:
    master = procs.python(str(script), *args, *MASTER_FLAGS, name="master")
    return master.wait_for(LISTEN).group(1)


def start_workers(procs, script: Path, db: str, count: int = 2) -> None:
    for i in range(count):
        procs.python(str(script), "--db", db, name=f"worker{i}").wait_for("Got worker pull")


def test_applications_example_of_the_registry_guide(procs) -> None:
    apps = EXAMPLES / "applications"
    db = start_master(procs, apps / "master.py", "--name", "test")
    start_workers(procs, apps / "worker.py", db)
    out = run_client(procs, apps / "launcher.py", "--server", "test", "--function", "foo",
                     "--db", db)
    lines = [line for line in out.splitlines() if line.startswith("b'")]
    assert len(lines) == 10 and all(line.endswith(" processed a message'") for line in lines)


def test_single_server_example(procs) -> None:
    ex = EXAMPLES / "server"
    server = procs.python(str(ex / "server.py"), "--db", ANY, "--pull", ANY, "--pub", ANY)
    db = server.wait_for(LISTEN).group(1)
    out = run_client(procs, ex / "client.py", "--db", db)
    assert "b'dlrow olleh'" in out and "b'eerht'" in out


def test_parallel_example(procs) -> None:
    ex = EXAMPLES / "parallel"
    db = start_master(procs, ex / "master.py")
    start_workers(procs, ex / "worker.py", db)
    out = run_client(procs, ex / "client.py", "--db", db, "-n", "1000")
    assert f"sum of squares below 1000: {sum(i * i for i in range(1000))}" in out


def test_cache_example(procs) -> None:
    ex = EXAMPLES / "cache"
    db = start_master(procs, EXAMPLES / "parallel" / "master.py", "--name", "cache")
    start_workers(procs, ex / "worker.py", db, count=1)
    out = run_client(procs, ex / "client.py", "--db", db)
    assert "factor: b'10'" in out
    assert "scaled: [b'10', b'20', b'30']" in out
    assert "a worker stored: b'stored by a worker'" in out and "after delete: b''" in out


def test_scatter_example(procs) -> None:
    ex = EXAMPLES / "scatter"
    db = start_master(procs, ex / "master.py")
    start_workers(procs, ex / "worker.py", db)
    out = run_client(procs, ex / "client.py", "--db", db)
    assert ast.literal_eval(out.strip().splitlines()[-1]) == sorted(
        [b"THE", b"QUICK", b"BROWN", b"FOX", b"JUMPS"])


def test_gather_example(procs) -> None:
    ex = EXAMPLES / "gather"
    db = start_master(procs, ex / "master.py")
    start_workers(procs, EXAMPLES / "parallel" / "worker.py", db)
    out = run_client(procs, ex / "client.py", "--db", db)
    assert f"10 partial sums, total {sum(i * i for i in range(1, 101))}" in out


@pytest.mark.parametrize("script", sorted(EXAMPLES.rglob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_is_an_executable_with_main(script: Path) -> None:
    source = script.read_text()
    assert "def main(" in source and "__main__" in source
    if script.parent.name == "applications":  # the registry guide's components
        assert "argparse" in source
