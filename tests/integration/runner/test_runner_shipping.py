"""No line lost, none twice: registry outages and a runner killed with SIGKILL."""

from __future__ import annotations

import re
import signal
import time

from runner_lab import Lab, pid_alive, wait_until

NUMBERED = """
import sys, time
count, seconds = int(sys.argv[1]), float(sys.argv[2])
start = time.monotonic()
for i in range(1, count + 1):
    print("line %d" % i)
    pause = start + i * seconds / count - time.monotonic()
    if pause > 0:
        time.sleep(pause)
print("all printed", file=sys.stderr)
while True:
    time.sleep(1)
"""


def test_registry_away_for_5_s_loses_nothing_and_duplicates_nothing(lab: Lab):
    script = lab.script("numbered.py", NUMBERED)
    cluster = lab.registry.create_cluster(
        f"[Counter]\nScript = {script} 1500 7\nRestart = never\n")
    runner = lab.runner(cluster, "--name", "node-a", "--quiet")
    wait_until(lambda: lab.registry.logs(cluster, instance="Counter.0", stream="stdout"),
               what="the first lines in the registry")
    lab.registry.stop()
    away_from = time.monotonic()
    time.sleep(5)  # the scenario: the registry is away for 5 s while lines keep coming
    lab.registry.start()
    assert time.monotonic() - away_from >= 5
    lines = wait_until(
        lambda: (found := lab.registry.logs(cluster, instance="Counter.0", stream="stdout"))
        and len(found) >= 1500 and found,
        timeout=60, what="all 1,500 lines")
    assert [line["text"] for line in lines] == [f"line {i}" for i in range(1, 1501)]
    seqs = [line["seq"] for line in lines]
    assert seqs == sorted(set(seqs))
    assert "registry unreachable" in runner.err()
    assert "reachable again" in runner.err()


def test_runner_killed_and_restarted_on_its_spool_loses_and_repeats_nothing(lab: Lab):
    script = lab.script("numbered.py", NUMBERED.replace('"line %d" % i', '"run %d line %d" % '
                                                        '(__import__("os").getpid(), i)'))
    cluster = lab.registry.create_cluster(f"[Counter]\nScript = {script} 3000 3\n")
    spool = str(lab.directory / "shared.spool")
    first = lab.runner(cluster, "--name", "node-a", "--spool", spool, name="first")
    wait_until(lambda: "line 300" in first.out(), what="300 lines read by the first runner")
    # freeze the registry so that what the runner reads next stays unacknowledged
    lab.registry.process.signal(signal.SIGSTOP)
    try:
        wait_until(lambda: "line 1500" in first.out(), what="lines spooled while frozen")
        first.signal(signal.SIGKILL)
        first.wait()
    finally:
        lab.registry.process.signal(signal.SIGCONT)
    echoed = re.findall(r"\[Counter\.0\] run (\d+) line (\d+)", first.out())
    old_pid = int(echoed[0][0])
    last_read = max(int(number) for _, number in echoed)
    wait_until(lambda: not pid_alive(old_pid), what="the orphaned component to end")
    second = lab.runner(cluster, "--spool", spool, name="second")  # name from the spool
    wait_until(lambda: "all printed" in second.out(), timeout=60, what="the second run")
    lines = wait_until(
        lambda: (found := lab.registry.logs(cluster, instance="Counter.0", stream="stdout"))
        and sum(f"run {old_pid} " not in line["text"] for line in found) >= 3000 and found,
        timeout=60, what="the second run's lines in the registry")
    old = [int(line["text"].rsplit(" ", 1)[1]) for line in lines
           if line["text"].startswith(f"run {old_pid} ")]
    new = [line["text"] for line in lines if not line["text"].startswith(f"run {old_pid} ")]
    assert old == list(range(1, len(old) + 1))  # in order, no gap, no repeat
    assert len(old) >= last_read  # everything the first runner had read arrived
    assert len(new) == 3000 and len(set(new)) == 3000
    seqs = [line["seq"] for line in lines]
    assert len(seqs) == len(set(seqs))  # sequence numbers continued across runs
    assert "sending them" in second.err() or len(old) == last_read
