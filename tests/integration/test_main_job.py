"""The README's main job runs end to end: registry, runner, master, workers, launcher."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, python_env


def test_main_job_prints_ten_results_status_and_logs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cluster_demo.py")],
        capture_output=True, text=True, timeout=240, env=python_env(), check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    results = [line for line in out.splitlines() if line.endswith(" processed a message'")]
    assert len(results) == 10
    assert "ready: True" in out
    assert "Worker: 2 of 2 placed" in out
    for instance in ("Master.0:", "Worker.0:", "Worker.1:"):
        assert instance in out
    assert "Got worker pull address" in out  # a worker's log line, read back from the registry
    assert "stopped the runner" in out
