"""The runner against the real registry: supervision, errors, stopping."""

from __future__ import annotations

import re
import signal
from datetime import datetime

from runner_lab import Lab, pid_alive, wait_until

CRASHER = """
print("crasher starting", flush=True)
raise SystemExit(3)
"""

PRINTER = """
import sys, time
print("printer up", flush=True)
print("printer warning", file=sys.stderr, flush=True)
while True:
    time.sleep(1)
"""


def _events(lab: Lab, cluster: str, instance: str, kind: str) -> list[dict]:
    lines = lab.registry.logs(cluster, instance=instance, stream="event")
    return [line for line in lines if line["text"].startswith(kind + " ")]


def test_crash_loop_is_restarted_with_growing_delays_and_shown(lab: Lab):
    cluster = lab.registry.create_cluster(
        f"[Crasher]\nScript = {lab.script('crash.py', CRASHER)}\nRestart = always\n")
    runner = lab.runner(cluster, "--backoff-initial", "0.2", "--crashloop-after", "3",
                        "--name", "node-a")
    status = wait_until(
        lambda: (i := lab.registry.instance(cluster, "Crasher.0"))["state"] == "crashloop"
        and i["restarts"] >= 4 and i,
        what="the crash loop in the status")
    assert status["last_exit"] == 3
    starts = _events(lab, cluster, "Crasher.0", "start")
    assert len(starts) >= 5
    outputs = [line for line in lab.registry.logs(cluster, instance="Crasher.0",
                                                  stream="stdout")]
    assert sum(line["text"] == "crasher starting" for line in outputs) >= 5
    restarts = _events(lab, cluster, "Crasher.0", "restart")
    delays = [float(re.search(r"in ([0-9.]+) s", line["text"])[1]) for line in restarts]
    assert all(later > earlier for earlier, later in zip(delays, delays[1:], strict=False))
    # each start came at least the announced delay after the exit before it
    exits = _events(lab, cluster, "Crasher.0", "exit")
    for exit_line, start_line, delay in zip(exits, starts[1:], delays, strict=False):
        gap = (datetime.fromisoformat(start_line["time"])
               - datetime.fromisoformat(exit_line["time"])).total_seconds()
        assert gap >= delay * 0.99
    assert "crashloop" in runner.err()
    assert [line["text"] for line in _events(lab, cluster, "Crasher.0", "crashloop")]


def test_missing_command_is_a_clear_error_and_others_still_run(lab: Lab):
    config = (f"[Printer]\nScript = {lab.script('printer.py', PRINTER)}\n\n"
              "[Missing]\nScript = /no/such/program --flag\n")
    cluster = lab.registry.create_cluster(config)
    runner = lab.runner(cluster, "--name", "node-a", "--config", _node_file(lab, 2))
    wait_until(lambda: "printer up" in runner.out(), what="the printer's first line")
    wait_until(lambda: "[Printer.0:err] printer warning" in runner.out(), what="stderr echo")
    assert "command not found: '/no/such/program'" in runner.err()
    wait_until(lambda: lab.registry.instance(cluster, "Missing.0")["state"] == "failed",
               what="Missing.0 failed in the status")
    wait_until(lambda: lab.registry.instance(cluster, "Printer.0")["state"] == "running",
               what="Printer.0 running in the status")
    errors = _events(lab, cluster, "Missing.0", "error")
    assert "command not found" in errors[0]["text"]
    texts = wait_until(lambda: [line["text"] for line in lab.registry.logs(
        cluster, instance="Printer.0") if line["stream"] != "event"] or None,
        what="printer lines in the registry")
    assert "printer up" in texts
    assert runner.popen.poll() is None  # still supervising the printer


def test_bad_node_file_is_refused_naming_the_key_while_others_run(lab: Lab):
    cluster = lab.registry.create_cluster(
        f"[Printer]\nScript = {lab.script('printer.py', PRINTER)}\nReplicas = 2\n")
    good = lab.runner(cluster, "--name", "node-a")
    wait_until(lambda: "printer up" in good.out(), what="the first printer")
    bad_file = lab.directory / "bad.ini"
    bad_file.write_text("[DEFAULT]\nProcessors = lots\n")
    bad = lab.runner(cluster, "--config", str(bad_file), name="bad")
    assert bad.wait() == 2
    assert f"{bad_file}: [DEFAULT] Processors = 'lots' is not a whole number" in bad.err()
    assert good.popen.poll() is None
    wait_until(lambda: lab.registry.instance(cluster, "Printer.0")["state"] == "running",
               what="Printer.0 running in the status")


def test_sigterm_stops_every_component_flushes_and_exits_0(lab: Lab):
    stubborn = """
import signal, time
signal.signal(signal.SIGTERM, lambda *a: print("ignoring SIGTERM", flush=True))
print("stubborn up", flush=True)
while True:
    time.sleep(0.1)
"""
    polite = """
import signal, sys, time
def bye(*a):
    print("polite says goodbye", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("polite up", flush=True)
while True:
    time.sleep(0.1)
"""
    config = (f"[Stubborn]\nScript = {lab.script('stubborn.py', stubborn)}\n\n"
              f"[Polite]\nScript = {lab.script('polite.py', polite)}\n")
    cluster = lab.registry.create_cluster(config)
    runner = lab.runner(cluster, "--name", "node-a", "--config", _node_file(lab, 2))
    wait_until(lambda: "stubborn up" in runner.out() and "polite up" in runner.out(),
               what="both components")
    pids = [wait_until(lambda n=n: lab.registry.instance(cluster, n)["pid"], what="pids")
            for n in ("Stubborn.0", "Polite.0")]
    runner.signal(signal.SIGTERM)
    assert runner.wait() == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert "still running 2 s after SIGTERM; sending SIGKILL" in runner.err()
    polite_lines = [line["text"] for line in lab.registry.logs(cluster, instance="Polite.0")]
    assert "polite says goodbye" in polite_lines  # flushed before the runner left
    stops = _events(lab, cluster, "Stubborn.0", "stop")
    assert stops and lab.registry.instance(cluster, "Stubborn.0")["state"] == "stopped"


def test_deleting_the_cluster_stops_its_components(lab: Lab):
    cluster = lab.registry.create_cluster(
        f"[Printer]\nScript = {lab.script('printer.py', PRINTER)}\n")
    runner = lab.runner(cluster, "--name", "node-a")
    pid = wait_until(lambda: lab.registry.instance(cluster, "Printer.0")["pid"], what="pid")
    lab.registry.delete(cluster)
    assert runner.wait() == 0
    assert not pid_alive(pid)
    assert "no longer exists" in runner.err()


def test_nothing_to_run_says_so_and_exits_0(lab: Lab):
    cluster = lab.registry.create_cluster(
        f"[Printer]\nScript = {lab.script('printer.py', PRINTER)}\n")
    first = lab.runner(cluster, "--name", "node-a")
    wait_until(lambda: "printer up" in first.out(), what="the printer")
    second = lab.runner(cluster, "--name", "node-b", name="second")
    assert second.wait() == 0
    assert "no command for node 'node-b'" in second.err()


def test_megabytes_on_stderr_never_block_the_component(lab: Lab):
    noisy = """
import sys, time
for i in range(20000):
    sys.stderr.write("noise %05d %s\\n" % (i, "x" * 250))
print("done after the noise", flush=True)
while True:
    time.sleep(1)
"""
    cluster = lab.registry.create_cluster(
        f"[Noisy]\nScript = {lab.script('noisy.py', noisy)}\n")
    lab.runner(cluster, "--name", "node-a", "--quiet")
    wait_until(lambda: any(line["text"] == "done after the noise" for line in
                           lab.registry.logs(cluster, instance="Noisy.0", stream="stdout")),
               what="the line after 5 MB of stderr")
    noise = wait_until(lambda: (lines := lab.registry.logs(
        cluster, instance="Noisy.0", stream="stderr")) and len(lines) >= 20000 and lines,
        what="all stderr lines")
    assert [line["text"][:11] for line in noise] == [f"noise {i:05d}" for i in range(20000)]


def _node_file(lab: Lab, processors: int) -> str:
    path = lab.directory / f"node-{processors}.ini"
    path.write_text(f"[DEFAULT]\nIp = 127.0.0.1\nProcessors = {processors}\n")
    return str(path)
