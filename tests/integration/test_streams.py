"""Pipelines, tees, stream routing, sinks and hubs, as real processes."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq

from pylm.clients import Client
from pylm.errors import RemoteError
from pylm.message import PalmMessage
from pylm.parts import wire
from tests.conftest import Proc, Procs

COMPONENTS = str(Path(__file__).with_name("stream_components.py"))
CACHE = r"Cache listening on (tcp://\S+)"
PUB = r"Pub listening on (\S+)"


@dataclass
class Step:
    proc: Proc
    db: str
    pub: str


def start(procs: Procs, label: str, *args: str) -> Step:
    proc = procs.python(COMPONENTS, *args, name=label)
    db = proc.wait_for(CACHE).group(1)
    pub = proc.wait_for(PUB).group(1)
    return Step(proc, db, pub)


@pytest.fixture
def clients() -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(name: str, db: str, **kw: object) -> Client:
        client = Client(name, db, **kw)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def numbered(count: int) -> list[bytes]:
    return [b"%d" % i for i in range(count)]


def test_three_steps_client_reads_the_last(procs: Procs, clients) -> None:
    source = start(procs, "source", "source", "src")
    middle = start(procs, "middle", "pipeline", "p1", source.pub, "src", "--middle")
    last = start(procs, "last", "pipeline", "p2", middle.pub, "p1")
    client = clients("src", source.db, sub_address=last.pub)
    assert client.eval(["src.tag", "p1.tag", "p2.upper"], b"7", timeout=10) == (
        b"7|SOURCE|P1:%d" % middle.proc.pid
    )
    results = list(client.job(["src.tag", "p1.tag", "p2.tag"], numbered(3000), timeout=20))
    expected = {
        b"%d|source|p1:%d|p2:%d" % (i, middle.proc.pid, last.proc.pid) for i in range(3000)
    }
    assert len(results) == 3000 and set(results) == expected
    # The pipeline describes itself in its cache.
    step_client = clients("p2", last.db, sub_address=last.pub, push_address="tcp://127.0.0.1:1")
    assert step_client.get("sub_address").decode() == middle.pub
    assert step_client.get("pub_address").decode() == last.pub


def test_method_returning_none_drops_the_message(procs: Procs, clients) -> None:
    source = start(procs, "source", "source", "src")
    step = start(procs, "step", "pipeline", "p", source.pub, "src")
    client = clients("src", source.db, sub_address=step.pub)
    results = list(client.job(["src.tag", "p.drop_odd"], numbered(100), messages=50, timeout=10))
    assert sorted(results) == sorted(b"%d|source" % i for i in range(0, 100, 2))
    # Nothing else comes: the next call gets its own result only.
    assert client.eval(["src.tag", "p.drop_odd"], b"1000", timeout=10) == b"1000|source"


def test_failing_step_tells_the_client_and_the_stream_goes_on(procs: Procs, clients) -> None:
    source = start(procs, "source", "source", "src")
    step = start(procs, "step", "pipeline", "p", source.pub, "src")
    client = clients("src", source.db, sub_address=step.pub)
    payloads = [b"fail-me" if i == 13 else b"ok" for i in range(40)]
    results = list(client.job(["src.tag", "p.fail"], payloads, timeout=10))
    errors = [r for r in results if isinstance(r, RemoteError)]
    assert len(results) == 40
    assert len(errors) == 1 and errors[0].index == 13
    assert "ValueError" in errors[0].reason and "fail-me" in errors[0].reason
    assert results.count(b"ok|source") == 39
    assert "Traceback" in step.proc.stdout + step.proc.stderr
    assert client.eval(["src.tag", "p.upper"], b"after", timeout=10) == b"AFTER|SOURCE"


def test_error_in_the_first_step_reaches_the_client_through_the_pipeline(
    procs: Procs, clients
) -> None:
    source = start(procs, "source", "source", "src")
    step = start(procs, "step", "pipeline", "p", source.pub, "src")
    client = clients("src", source.db, sub_address=step.pub)
    with pytest.raises(RemoteError, match="not a function"):
        client.eval(["src.missing", "p.upper"], b"x", timeout=10)
    with pytest.raises(RemoteError, match="'other' was called"):
        client.eval(["src.tag", "other.upper"], b"x", timeout=10)


def subscriber(address: str, topic: str) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
    sock.connect(address)
    return sock


def read_messages(sock: zmq.Socket, count: int, timeout: float = 10.0) -> list[PalmMessage]:
    messages: list[PalmMessage] = []
    while len(messages) < count:
        assert sock.poll(int(timeout * 1000)), f"only {len(messages)} of {count} arrived"
        frame = sock.recv_multipart()[-1]
        items = wire.unpack(frame, 2) if frame[:2] == wire.BATCH else [frame]
        messages.extend(PalmMessage.FromString(item) for item in items)
    return messages


def test_tee_both_pipelines_get_the_whole_stream(procs: Procs, clients) -> None:
    source = start(procs, "source", "source", "src")
    first = start(procs, "first", "pipeline", "branch", source.pub, "src")
    second = start(procs, "second", "pipeline", "branch", source.pub, "src")
    client = clients("src", source.db, sub_address=first.pub)
    watcher = subscriber(second.pub, client.uuid)
    try:
        # The source holds messages until a first subscriber appears, not until both
        # branches have: probe until each branch has seen one (see docs/streams.md).
        deadline = time.monotonic() + 20
        while True:
            assert time.monotonic() < deadline, "the branches did not both subscribe"
            try:
                client.eval(["src.tag", "branch.tag"], b"probe", timeout=0.5)
            except TimeoutError:
                continue
            if watcher.poll(500):
                break
        while watcher.poll(200):
            watcher.recv_multipart()
        results = list(client.job(["src.tag", "branch.tag"], numbered(500), timeout=10))
        assert set(results) == {b"%d|source|branch:%d" % (i, first.proc.pid) for i in range(500)}
        seen = read_messages(watcher, 500)
        assert {m.payload for m in seen} == {
            b"%d|source|branch:%d" % (i, second.proc.pid) for i in range(500)
        }
    finally:
        watcher.close()


def test_routing_halves_and_a_sink_joins_them(procs: Procs, clients) -> None:
    source = start(procs, "source", "source", "src", "--router")
    odd = start(procs, "odd", "pipeline", "half", source.pub, "odd", "--middle")
    even = start(procs, "even", "pipeline", "half", source.pub, "even", "--middle")
    sink = start(procs, "sink", "sink", "join", f"{odd.pub},{even.pub}", "half,half")
    client = clients("src", source.db, sub_address=sink.pub)
    results = list(client.job(["src.tag", "half.tag", "join.tag"], numbered(400), timeout=20))
    assert len(results) == 400
    for result in results:
        number, _, step, _ = result.split(b"|")
        pid = odd.proc.pid if int(number) % 2 else even.proc.pid
        assert step == b"half:%d" % pid
    assert {int(r.split(b"|")[0]) for r in results} == set(range(400))


def test_master_feeds_a_pipeline(procs: Procs, clients) -> None:
    master = procs.python(COMPONENTS, "master", "mst", name="master")
    db = master.wait_for(CACHE).group(1)
    pub = master.wait_for(PUB).group(1)
    workers = [procs.python(COMPONENTS, "worker", db, name=f"worker{i}") for i in range(2)]
    for worker in workers:
        worker.wait_for("Got worker pull address")
    step = start(procs, "step", "pipeline", "p", pub, "mst")
    client = clients("mst", db, sub_address=step.pub)
    results = list(client.job(["mst.tag", "p.upper"], numbered(300), timeout=20))
    pids = {str(w.pid).encode() for w in workers}
    assert len(results) == 300
    assert {r.split(b"|")[0] for r in results} == {b"%d" % i for i in range(300)}
    assert {r.split(b"|WORKER:")[1] for r in results} <= pids


def test_server_feeds_a_hub_with_its_own_workers(procs: Procs, clients) -> None:
    source = start(procs, "source", "source", "src")
    hub = start(procs, "hub", "hub", "hub", source.pub, "src")
    workers = [procs.python(COMPONENTS, "worker", hub.db, name=f"worker{i}") for i in range(2)]
    for worker in workers:
        worker.wait_for("Got worker pull address")
    client = clients("src", source.db, sub_address=hub.pub)
    results = list(client.job(["src.tag", "hub.tag"], numbered(300), timeout=20))
    pids = {b"%d" % w.pid for w in workers}
    assert len(results) == 300
    assert {r.split(b"|")[0] for r in results} == {b"%d" % i for i in range(300)}
    assert {r.split(b"|worker:")[1] for r in results} <= pids
    assert "Inbound Sub connects to WorkerPush" in hub.proc.stdout


def test_step_started_after_the_stream_began(procs: Procs, clients, tmp_path: Path) -> None:
    """Messages published before the step subscribed wait in the upstream publisher."""
    source = start(procs, "source", "source", "src")
    pub = f"ipc://{tmp_path}/late.pub"
    client = clients("src", source.db, sub_address=pub)
    late: list[Proc] = []

    def payloads() -> Iterator[bytes]:
        for i in range(200):
            if i == 100:  # half the stream is out: only now start the step
                late.append(procs.python(COMPONENTS, "pipeline", "p", source.pub, "src",
                                         "--pub", pub, name="late"))
            yield b"%d" % i

    results = list(client.job(["src.tag", "p.upper"], payloads(), timeout=30))
    assert sorted(results) == sorted(b"%d|SOURCE" % i for i in range(200))
    assert late and late[0].popen.poll() is None


def test_step_restarting_mid_stream(procs: Procs, clients, tmp_path: Path) -> None:
    """While a step is down its calls time out (never hang); once it is back, calls work."""
    source = start(procs, "source", "source", "src")
    pub = f"ipc://{tmp_path}/step.pub"
    args = ("pipeline", "p", source.pub, "src", "--pub", pub)
    step = procs.python(COMPONENTS, *args, name="step")
    client = clients("src", source.db, sub_address=pub)
    assert len(list(client.job(["src.tag", "p.upper"], numbered(100), timeout=20))) == 100
    step.signal(signal.SIGKILL)
    step.wait()
    with pytest.raises(TimeoutError, match=r"0 of 1 received"):
        client.eval(["src.tag", "p.upper"], b"while down", timeout=1.0)
    restarted = procs.python(COMPONENTS, *args, name="restarted")
    results = list(client.job(["src.tag", "p.upper"], numbered(100), timeout=20))
    assert sorted(results) == sorted(b"%d|SOURCE" % i for i in range(100))
    assert restarted.popen.poll() is None
