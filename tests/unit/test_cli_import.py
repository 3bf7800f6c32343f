"""``pylm.cli`` stays light: importing it loads no HTTP client, database or server."""

import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_importing_pylm_cli_loads_nothing_heavy():
    code = ("import sys, pylm.cli\n"
            "heavy = [m for m in ('httpx', 'sqlalchemy', 'starlette', 'uvicorn', 'zmq')"
            " if m in sys.modules]\n"
            "print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": SRC, "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_pylm_help_lists_the_commands():
    done = subprocess.run([sys.executable, "-m", "pylm.cli", "cluster", "--help"],
                          capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": SRC, "PATH": ""})
    assert done.returncode == 0
    for word in ("create", "list", "status", "reset", "delete"):
        assert word in done.stdout
