"""Pipelines of this implementation mixed with the original pylm 0.14.4 (compatibility)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pylm.clients import Client
from tests.conftest import Procs, legacy_python

from .test_streams import start

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
