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
    starts = wait_until(lambda: (found := _events(lab, cluster, "Crasher.0", "start"))
                        and len(found) >= 5 and found, what="five start events in the logs")
    wait_until(lambda: sum(line["text"] == "crasher starting" for line in lab.registry.logs(
        cluster, instance="Crasher.0", stream="stdout")) >= 5, what="five starts' output")
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
    wait_until(lambda: "command not found: '/no/such/program'" in runner.err(),
               what="the error on the runner's stderr")
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


def test_user_chosen_cluster_key_needs_the_users_key(lab: Lab):
    config = f"[Printer]\nScript = {lab.script('printer.py', PRINTER)}\n"
    lab.registry.call("POST", "/api/v1/clusters", {"config": config, "key": "my-own-key"})
    refused = lab.runner("my-own-key", "--name", "node-a", name="refused")
    assert refused.wait() == 2
    assert "pylm-runner: the registry refused node 'node-a'" in refused.err()
    accepted = lab.runner("my-own-key", "--name", "node-a", "--key", lab.registry.key,
                          name="accepted")
    wait_until(lambda: "printer up" in accepted.out(), what="the printer")


def test_restarted_runner_ends_what_its_killed_predecessor_left(lab: Lab):
    deaf = """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("deaf up", os.getpid(), flush=True)
while True:
    time.sleep(0.1)
"""
    cluster = lab.registry.create_cluster(f"[Deaf]\nScript = {lab.script('deaf.py', deaf)}\n")
    spool = str(lab.directory / "shared.spool")
    first = lab.runner(cluster, "--name", "node-a", "--spool", spool, name="first")
    pid = int(wait_until(lambda: re.findall(r"deaf up (\d+)", first.out()), what="deaf")[0])
    first.signal(signal.SIGKILL)
    first.wait()
    assert pid_alive(pid)  # it ignores the SIGTERM sent when its runner died
    second = lab.runner(cluster, "--spool", spool, name="second")
    wait_until(lambda: "deaf up" in second.out(), what="the new instance")
    assert "Deaf.0: ended processes a previous runner left behind" in second.err()
    assert not pid_alive(pid)


def test_a_silent_runner_is_marked_lost_with_its_instances_then_live_again(lab: Lab):
    cluster = lab.registry.create_cluster(
        f"[Printer]\nScript = {lab.script('printer.py', PRINTER)}\n")
    runner = lab.runner(cluster, "--name", "node-a")
    wait_until(lambda: lab.registry.instance(cluster, "Printer.0")["state"] == "running",
               what="the printer running")
    node = lab.registry.status(cluster)["nodes"][0]
    assert node["name"] == "node-a" and node["state"] == "live" and node["last_heartbeat"]
    runner.signal(signal.SIGSTOP)  # the runner falls silent (lost after 3 s)
    try:
        wait_until(lambda: lab.registry.status(cluster)["nodes"][0]["state"] == "lost",
                   what="the node marked lost")
        assert lab.registry.instance(cluster, "Printer.0")["state"] == "lost"
    finally:
        runner.signal(signal.SIGCONT)
    wait_until(lambda: lab.registry.status(cluster)["nodes"][0]["state"] == "live",
               what="the node live again")
    wait_until(lambda: lab.registry.instance(cluster, "Printer.0")["state"] == "running",
               what="the printer running again")


def test_second_signal_kills_at_once(lab: Lab):
    deaf = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("deaf up", flush=True)
while True:
    time.sleep(0.1)
"""
    cluster = lab.registry.create_cluster(f"[Deaf]\nScript = {lab.script('deaf.py', deaf)}\n")
    runner = lab.runner(cluster, "--name", "node-a", "--grace", "600")
    wait_until(lambda: "deaf up" in runner.out(), what="the deaf component")
    pid = wait_until(lambda: lab.registry.instance(cluster, "Deaf.0")["pid"], what="its pid")
    runner.signal(signal.SIGINT)
    wait_until(lambda: "stopping 1 instances" in runner.err(), what="the stop to begin")
    runner.signal(signal.SIGINT)  # a second Ctrl-C: no more grace
    assert runner.wait() == 0
    assert "killing every component now" in runner.err()
    assert not pid_alive(pid)


def test_registry_unreachable_at_start_is_a_clear_error(lab: Lab):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once closed
    argv_registry = f"http://127.0.0.1:{closed}"
    runner = lab.runner("K", "--join-timeout", "1", "--registry", argv_registry, name="lonely")
    assert runner.wait() == 2
    assert f"registry {argv_registry} unreachable for 1 s" in runner.err()
