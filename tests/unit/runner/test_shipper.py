import asyncio
import time
from pathlib import Path

from pylm.runner.client import RegistryClient
from pylm.runner.heartbeat import Heartbeat
from pylm.runner.shipper import Shipper, ShipperSettings
from pylm.runner.spool import Spool

FAST = ShipperSettings(batch_lines=50, linger=0.01, retry_initial=0.02, retry_max=0.1)


def _run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def _until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _fill(spool: Spool, count: int, instance: str = "S.0") -> None:
    for i in range(count):
        spool.append("n", "S", instance, "stdout", time.time(), [f"line {i}"])


def test_lines_arrive_in_order_in_batches_and_leave_the_spool(tmp_path: Path, registry_double):
    async def scenario():
        spool = Spool(tmp_path)
        client = RegistryClient(registry_double.url, "C1", "tok")
        shipper = Shipper(client, spool, FAST)
        task = asyncio.create_task(shipper.run())
        _fill(spool, 120)
        shipper.notify()
        await _until(lambda: spool.pending_lines == 0)
        shipper.close()
        await task
        await client.aclose()
        spool.close()
        return shipper

    shipper = _run(scenario())
    state = registry_double.state
    assert [line["text"] for line in state.lines] == [f"line {i}" for i in range(120)]
    assert [line["seq"] for line in state.lines] == list(range(1, 121))
    log_posts = [body for path, body in state.requests if path == "/api/v1/clusters/C1/logs"]
    assert all(len(body["lines"]) <= 50 for body in log_posts)
    assert shipper.acknowledged == 120
    assert set(state.tokens) == {"Bearer tok"}


def test_registry_away_then_back_gets_everything_once_in_order(tmp_path: Path, registry_double):
    registry_double.state.down = True

    async def scenario():
        spool = Spool(tmp_path)
        client = RegistryClient(registry_double.url, "C1", "tok")
        shipper = Shipper(client, spool, FAST)
        task = asyncio.create_task(shipper.run())
        _fill(spool, 200)
        shipper.notify()
        await _until(lambda: len(registry_double.state.requests) >= 3)  # it keeps trying
        assert spool.pending_lines == 200  # nothing dropped while away
        registry_double.state.down = False
        await _until(lambda: spool.pending_lines == 0)
        shipper.close()
        await task
        await client.aclose()
        spool.close()

    _run(scenario())
    assert [line["text"] for line in registry_double.state.lines] == [
        f"line {i}" for i in range(200)]


def test_lost_acknowledgement_means_resend_and_no_duplicate(tmp_path: Path, registry_double):
    registry_double.state.lose_log_answers = 2

    async def scenario():
        spool = Spool(tmp_path)
        client = RegistryClient(registry_double.url, "C1", "tok")
        shipper = Shipper(client, spool, FAST)
        task = asyncio.create_task(shipper.run())
        _fill(spool, 30)
        shipper.notify()
        await _until(lambda: spool.pending_lines == 0)
        shipper.close()
        await task
        await client.aclose()
        spool.close()
        return shipper

    shipper = _run(scenario())
    assert [line["text"] for line in registry_double.state.lines] == [
        f"line {i}" for i in range(30)]
    assert shipper.duplicates == 30  # the second send found them all stored


def test_unacknowledged_lines_are_sent_by_the_next_run(tmp_path: Path, registry_double):
    registry_double.state.down = True

    async def first_run():
        spool = Spool(tmp_path)
        client = RegistryClient(registry_double.url, "C1", "tok")
        shipper = Shipper(client, spool, FAST)
        task = asyncio.create_task(shipper.run())
        _fill(spool, 10)
        shipper.notify()
        await _until(lambda: len(registry_double.state.requests) >= 2)
        task.cancel()  # the runner dies
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        spool.close()

    _run(first_run())
    assert registry_double.state.lines == []
    registry_double.state.down = False

    async def second_run():
        spool = Spool(tmp_path)
        client = RegistryClient(registry_double.url, "C1", "tok")
        shipper = Shipper(client, spool, FAST)
        task = asyncio.create_task(shipper.run())
        shipper.close()
        await task
        await client.aclose()
        spool.close()

    _run(second_run())
    assert [line["text"] for line in registry_double.state.lines] == [
        f"line {i}" for i in range(10)]


def test_events_are_posted_before_lines(tmp_path: Path, registry_double):
    async def scenario():
        spool = Spool(tmp_path)
        client = RegistryClient(registry_double.url, "C1", "tok")
        shipper = Shipper(client, spool, FAST)
        _fill(spool, 1)
        spool.append_event({"node": "n", "instance": "S.0", "kind": "start"})
        task = asyncio.create_task(shipper.run())
        shipper.close()
        await task
        await client.aclose()
        spool.close()

    _run(scenario())
    paths = [path.rsplit("/", 1)[1] for path, _ in registry_double.state.requests]
    assert paths == ["events", "logs"]
    assert registry_double.state.events == [{"node": "n", "instance": "S.0", "kind": "start"}]


def test_deleted_cluster_stops_the_shipper_and_keeps_the_lines(tmp_path: Path, registry_double):
    registry_double.state.gone = True
    gone = []

    async def scenario():
        spool = Spool(tmp_path)
        client = RegistryClient(registry_double.url, "C1", "tok")
        shipper = Shipper(client, spool, FAST, on_cluster_gone=lambda: gone.append(True))
        _fill(spool, 3)
        await shipper.run()  # returns by itself
        await client.aclose()
        pending = spool.pending_lines
        spool.close()
        return pending

    assert _run(scenario()) == 3
    assert gone == [True]


def test_heartbeat_sends_states_and_notices_a_deleted_cluster(registry_double):
    gone = []

    async def scenario():
        client = RegistryClient(registry_double.url, "C1", "tok")
        snapshot = [{"instance": "S.0", "state": "running"}]
        beat = Heartbeat(client, "node-a", 0.05, lambda: snapshot, lambda: gone.append(1))
        task = asyncio.create_task(beat.run())
        await _until(lambda: len(registry_double.state.heartbeats) >= 2)
        registry_double.state.gone = True
        await task  # returns once the registry says 404
        await client.aclose()

    _run(scenario())
    assert registry_double.state.heartbeats[0] == {
        "instances": [{"instance": "S.0", "state": "running"}]}
    paths = {path for path, _ in registry_double.state.requests}
    assert paths == {"/api/v1/clusters/C1/nodes/node-a/heartbeat"}
    assert gone == [1]
