"""Wire compatibility: the UNMODIFIED pylm 0.14.4 ``Client`` drives our Server and Master.

Our components run as real processes with this interpreter (``legacy_client/
our_components.py``); the original client runs in the legacy virtualenv built by
``scripts/legacy-venv`` (``$PYLM_LEGACY_PYTHON`` or ``.bench/legacy/bin/python``),
driven by ``legacy_client/legacy_session.py``, which bounds every wait it makes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from pylm.proto.palm_pb2 import PalmMessage

REPO = Path(__file__).resolve().parents[2]
HELPERS = Path(__file__).resolve().parent / "legacy_client"
OUR_COMPONENTS = HELPERS / "our_components.py"
LEGACY_SESSION = HELPERS / "legacy_session.py"
LEGACY_PYTHON = Path(
    os.environ.get("PYLM_LEGACY_PYTHON", REPO / ".bench" / "legacy" / "bin" / "python")
)
STARTUP_S = 20.0
SESSION_TIMEOUT_S = 90.0

pytestmark = [
    pytest.mark.legacy,
    pytest.mark.skipif(
        not LEGACY_PYTHON.exists(),
        reason=f"no pylm 0.14.4 interpreter at {LEGACY_PYTHON} (run scripts/legacy-venv)",
    ),
]


def free_address() -> str:
    """A loopback address on a port the OS just assigned (released before use: tiny race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


class Processes:
    """Our component processes, each logging to a file, stopped by PID at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, *args: str) -> subprocess.Popen:
        log_path = self.log_dir / f"{len(self.started)}-{args[0]}.log"
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONUNBUFFERED": "1"}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(OUR_COMPONENTS), *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        self.started.append((process, log_path))
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for _, path in self.started)

    def stop_all(self) -> None:
        for process, _ in reversed(self.started):
            if process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def wait_for_cache(db_address: str, server_name: str, processes: Processes) -> None:
    """Poll our server's cache until it answers ``get('name')`` with ``server_name``."""
    request = PalmMessage(function=f"{server_name}.get", payload=b"name", client="test",
                          pipeline="test").SerializeToString()
    context = zmq.Context.instance()
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        for process, _ in processes.started:
            assert process.poll() is None, f"a component died:\n{processes.logs()}"
        probe = context.socket(zmq.REQ)
        probe.setsockopt(zmq.LINGER, 0)
        try:
            probe.connect(db_address)
            probe.send(request)
            if probe.poll(200, zmq.POLLIN):
                assert probe.recv() == server_name.encode()
                return
        finally:
            probe.close()
    pytest.fail(f"our server's cache at {db_address} never answered:\n{processes.logs()}")


@pytest.fixture
def our_server(processes: Processes) -> tuple[str, str]:
    name, db = "reverser", free_address()
    processes.start("server", name, db, free_address(), free_address())
    wait_for_cache(db, name, processes)
    return name, db


@pytest.fixture
def our_master(processes: Processes) -> tuple[str, str]:
    name, db = "master", free_address()
    addresses = [free_address() for _ in range(4)]
    processes.start("master", name, db, *addresses)
    wait_for_cache(db, name, processes)
    for index in range(2):
        processes.start("worker", f"worker{index}", db)
    return name, db


def legacy_session(server_name: str, db_address: str, ops: list[dict]) -> list[dict]:
    """Run ``ops`` with one original pylm 0.14.4 Client; return its answers."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    finished = subprocess.run(
        [str(LEGACY_PYTHON), str(LEGACY_SESSION), server_name, db_address],
        input=json.dumps(ops), capture_output=True, text=True, env=env,
        timeout=SESSION_TIMEOUT_S, check=False,
    )
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    # The client under test really is the published original, not this project.
    assert report["pylm_version"] == "0.14.4"
    assert not report["pylm_file"].startswith(str(REPO / "src"))
    return report["answers"]


def reversed_hex(payload: bytes) -> str:
    return payload[::-1].hex()


def payloads(count: int) -> list[bytes]:
    return [f"message {index:05d} ".encode() * 3 for index in range(count)]


def eval_op(function: str, payload: bytes) -> dict:
    return {"op": "eval", "function": function, "payload": payload.hex()}


def job_op(function: str, items: list[bytes]) -> dict:
    return {"op": "job", "function": function, "payloads": [p.hex() for p in items],
            "messages": len(items)}


def cache_ops() -> list[dict]:
    return [
        {"op": "set", "value": b"first value".hex(), "key": "chosen-key"},
        {"op": "get", "key": "chosen-key"},
        {"op": "set", "value": b"\x00\xffbinary".hex(), "key": None},
        {"op": "get", "key": "never-set"},
        {"op": "delete", "key": "chosen-key"},
        {"op": "get", "key": "chosen-key"},
    ]


def check_cache_answers(answers: list[dict], server_name: str, db: str) -> None:
    chosen, first, generated, absent, deleted, after_delete = answers
    assert chosen == {"result": "chosen-key"}
    assert first == {"result": b"first value".hex()}
    key = generated["result"]
    assert len(key) == 36 and key.count("-") == 4  # a fresh uuid4 text key
    assert absent == {"result": ""}
    assert deleted == {"result": "chosen-key"}
    assert after_delete == {"result": ""}
    # The generated key really stores the value (read back by a second client).
    assert legacy_session(server_name, db, [{"op": "get", "key": key}]) == [
        {"result": b"\x00\xffbinary".hex()}
    ]


def test_legacy_client_evals_on_our_server(our_server: tuple[str, str]) -> None:
    name, db = our_server
    items = [b"hello", b"\x00\x01\x02", b"x" * 10_000]
    answers = legacy_session(name, db, [eval_op(f"{name}.reverse", p) for p in items])
    assert answers == [{"result": reversed_hex(p)} for p in items]


def test_legacy_client_job_on_our_server(our_server: tuple[str, str]) -> None:
    name, db = our_server
    items = payloads(300)
    (answer,) = legacy_session(name, db, [job_op(f"{name}.reverse", items)])
    assert "error" not in answer
    assert sorted(answer["results"]) == sorted(reversed_hex(p) for p in items)


def test_legacy_client_cache_on_our_server(our_server: tuple[str, str]) -> None:
    name, db = our_server
    check_cache_answers(legacy_session(name, db, cache_ops()), name, db)


def test_legacy_client_evals_through_our_master(our_master: tuple[str, str]) -> None:
    name, db = our_master
    items = [b"through the master", b"\xfe\xed", b"y" * 5_000]
    answers = legacy_session(name, db, [eval_op(f"{name}.reverse", p) for p in items])
    assert answers == [{"result": reversed_hex(p)} for p in items]


def test_legacy_client_job_through_our_master(our_master: tuple[str, str]) -> None:
    name, db = our_master
    items = payloads(1000)
    (answer,) = legacy_session(name, db, [job_op(f"{name}.reverse", items)])
    assert "error" not in answer
    assert sorted(answer["results"]) == sorted(reversed_hex(p) for p in items)


def test_legacy_client_cache_on_our_master(our_master: tuple[str, str]) -> None:
    name, db = our_master
    check_cache_answers(legacy_session(name, db, cache_ops()), name, db)


def test_legacy_eval_right_after_creation_gets_its_reply(our_server: tuple[str, str]) -> None:
    """The original client opens a fresh SUB socket for every eval and sends at once.

    Against pylm 0.14.4's own Server about half of these replies are lost (the reply
    is published before the subscription arrives); ours holds a client's results
    until its subscriber is seen, so every one arrives.
    """
    name, db = our_server
    ops: list[dict] = []
    expected: list[dict] = []
    for index in range(5):  # brand-new clients, eval immediately
        payload = f"fresh client {index}".encode()
        ops += [{"op": "new_client"}, eval_op(f"{name}.reverse", payload)]
        expected += [None, {"result": reversed_hex(payload)}]
    for index in range(150):  # one client, many evals in a row (a fresh SUB each)
        payload = f"eval in a row {index}".encode()
        ops.append(eval_op(f"{name}.reverse", payload))
        expected.append({"result": reversed_hex(payload)})
    answers = legacy_session(name, db, ops)
    assert "error" not in answers[-1], (
        f"lost a reply after {len(answers) - 1} of {len(ops)} operations: {answers[-1]}"
    )
    assert len(answers) == len(ops)
    got = [answer for answer, want in zip(answers, expected, strict=True) if want]
    assert got == [want for want in expected if want]
