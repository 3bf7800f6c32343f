"""Every stream and HTTP example runs to completion and prints what it promises."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, python_env

EXAMPLES = ROOT / "examples"


def run_example(name: str, timeout: float = 90.0) -> str:
    """Run ``examples/NAME/run.py``; kill its whole process group if it does not finish."""
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / name / "run.py")], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=python_env(), start_new_session=True, text=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=10)
        pytest.fail(f"example {name} did not finish within {timeout} s:\n{output}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def client_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Client got:")]


def test_pipeline() -> None:
    assert client_lines(run_example("pipeline")) == [
        "Client got: and I pipelined you sent me a message"
    ]


def test_tee() -> None:
    output = run_example("tee")
    assert client_lines(output) == ["Client got: and I pipelined you sent me a message"] * 10
    assert "The silent branch saw 10 messages" in output


def test_stream_routing() -> None:
    output = run_example("stream_routing")
    assert sorted(client_lines(output)) == [
        f"Client got: and I pipelined you sent me message {i}" for i in range(0, 10, 2)
    ]
    assert "The odd branch saw 5 messages" in output


def test_sink() -> None:
    assert client_lines(run_example("sink")) == [
        f"Client got: message {i}, pipelined by the {'odd' if i % 2 else 'even'} branch, "
        "and gathered" for i in range(10)
    ]


def test_master_pipeline() -> None:
    lines = client_lines(run_example("master_pipeline"))
    assert len(lines) == 10
    assert {line.split(" processed")[0] for line in lines} <= {
        "Client got: and I pipelined worker-1", "Client got: and I pipelined worker-2"
    }


def test_server_hub() -> None:
    lines = client_lines(run_example("server_hub"))
    assert [line.split(" processed ")[1] for line in lines] == [
        f"you sent me message {i}" for i in range(3)
    ]


def test_http_worker() -> None:
    assert client_lines(run_example("http_worker")) == [
        "Client got: a message processed online"
    ] * 10


def test_http_gateway() -> None:
    output = run_example("http_gateway")
    assert "POST /function: 200 b'acknowledged a request'" in output
    assert "POST /missing: 404 b\"no function 'missing' on the workers\\n\"" in output
