"""Pipelines of this implementation mixed with the original pylm 0.14.4 (compatibility)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pylm.clients import Client
from tests.conftest import Procs, legacy_python

from .test_streams import read_messages, start, subscriber

pytestmark = pytest.mark.legacy

LEGACY = str(Path(__file__).with_name("legacy_streams.py"))


def test_legacy_client_drives_our_pipeline_chain(procs: Procs) -> None:
    source = start(procs, "source", "source", "src")
    step = start(procs, "step", "pipeline", "p", source.pub, "src")
    job = procs.start([legacy_python(), LEGACY, "job", "src", source.db, step.pub, "50",
                       "src.tag", "p.upper"], name="legacy-client")
    assert job.wait(timeout=60) == 0, job.stderr
    answer = json.loads(job.stdout.strip().splitlines()[-1])
    assert sorted(answer["results"]) == sorted(f"{i}|SOURCE" for i in range(50))


def test_legacy_pipeline_after_our_server_gets_plain_frames(
    procs: Procs, tmp_path: Path
) -> None:
    """Our publisher must not send batches to a subscriber that cannot read them."""
    source = start(procs, "source", "source", "src")
    pub = f"ipc://{tmp_path}/legacy.pub"
    legacy = procs.start([legacy_python(), LEGACY, "pipeline", "old", f"ipc://{tmp_path}/db",
                          source.pub, pub, "src"], name="legacy-pipeline")
    legacy.wait_for("READY")
    with Client("src", source.db, sub_address=pub) as client:
        # The legacy step subscribes on its own time: the first call waits for it.
        results = list(client.job(["src.tag", "old.tag"], [b"%d" % i for i in range(300)],
                                  timeout=20))
    assert sorted(results) == sorted(b"%d|source|legacy" % i for i in range(300))


def test_mixed_tee_our_pipeline_and_a_legacy_one(procs: Procs, tmp_path: Path) -> None:
    """One topic, two subscribers: ours reads batches, the original cannot, so both must
    get plain frames and the whole stream."""
    source = start(procs, "source", "source", "src")
    ours = start(procs, "ours", "pipeline", "branch", source.pub, "src")
    legacy_pub = f"ipc://{tmp_path}/legacy.pub"
    legacy = procs.start([legacy_python(), LEGACY, "pipeline", "branch", f"ipc://{tmp_path}/db",
                          source.pub, legacy_pub, "src"], name="legacy-pipeline")
    legacy.wait_for("READY")
    with Client("src", source.db, sub_address=ours.pub) as client:
        watcher = subscriber(legacy_pub, client.uuid)
        try:
            # Probe until both branches have subscribed (see docs/streams.md, "Tee").
            deadline = time.monotonic() + 30
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
            results = list(client.job(["src.tag", "branch.tag"],
                                      [b"%d" % i for i in range(300)], timeout=20))
            theirs = read_messages(watcher, 300)
        finally:
            watcher.close()
    assert sorted(results) == sorted(b"%d|source|branch:%d" % (i, ours.proc.pid)
                                     for i in range(300))
    assert sorted(m.payload for m in theirs) == sorted(b"%d|source|legacy" % i
                                                       for i in range(300))
