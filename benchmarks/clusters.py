"""How each benchmark starts its PALM cluster and drives it, for either project.

A *side* is one project: its interpreter and environment. Components and client
drivers are the scripts in ``workloads/``, run with that side's interpreter; the
HTTP load generator and the raw pyzmq baselines always run with this interpreter,
so both projects face the same load.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from processes import (
    Launched,
    ProcessGroup,
    RunFailed,
    Unavailable,
    free_tcp_address,
    port_of,
)

WORKLOADS_DIR = Path(__file__).resolve().parent / "workloads"
sys.path.insert(0, str(WORKLOADS_DIR))

from cache_probe import wait_for_cache  # noqa: E402

COMPONENTS = str(WORKLOADS_DIR / "components.py")
DRIVE = str(WORKLOADS_DIR / "drive.py")
HTTP_LOAD = str(WORKLOADS_DIR / "http_load.py")
RAW_ZMQ = str(WORKLOADS_DIR / "raw_zmq.py")

UNAVAILABLE_STATUS = 3  # components.py's exit status for a missing feature
STARTUP_S = 30.0
ORIGINAL = "original"
OURS = "ours"


@dataclass(frozen=True)
class Side:
    """One project under test: the interpreter that imports it, and its environment."""

    key: str
    label: str
    python: str
    env: dict[str, str]


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does (``--quick`` picks the small set)."""

    job: int
    pipeline: int
    eval_ours: int
    eval_original: int
    http: int
    raw_req: int
    raw_relay: int
    warmup: int = 200
    http_warmup: int = 100
    original_eval_timeout_s: float = 0.25


FULL = Sizes(job=20_000, pipeline=20_000, eval_ours=5_000, eval_original=300,
             http=5_000, raw_req=10_000, raw_relay=200_000)
QUICK = Sizes(job=2_000, pipeline=2_000, eval_ours=500, eval_original=60,
              http=1_000, raw_req=2_000, raw_relay=50_000, warmup=100, http_warmup=50)


class Cluster:
    """Starts components of one side inside a process group and waits until they serve."""

    def __init__(
        self, group: ProcessGroup, side: Side, sizes: Sizes, original: Side | None = None
    ) -> None:
        self.group = group
        self.side = side
        self.sizes = sizes
        self.original = original  # pylm 0.14.4, for workloads that drive with its client

    def component(self, role: str, label: str, *args: str) -> Launched:
        launched = self.group.start(
            f"{self.side.key}-{label}", [self.side.python, COMPONENTS, role, *args], self.side.env
        )
        launched.wait_for_line("READY", time.monotonic() + STARTUP_S, UNAVAILABLE_STATUS)
        return launched

    @staticmethod
    def wait_cache(db_address: str, name: str) -> None:
        answer = wait_for_cache(db_address, name, time.monotonic() + STARTUP_S)
        if answer != name.encode():
            raise RunFailed(f"the cache at {db_address} says its name is {answer!r}")

    def drive(
        self, label: str, args: list[str], timeout: float, client: Side | None = None
    ) -> dict:
        """Run ``drive.py`` with the client of ``client`` (default: this side's own)."""
        client = client or self.side
        launched = self.group.run(
            f"{self.side.key}-{label}",
            [client.python, DRIVE, *args, "--side", client.key],
            timeout,
            client.env,
        )
        return json.loads(launched.result_line())

    def local(self, label: str, argv: list[str], timeout: float) -> dict:
        """Run one of the side-independent measuring scripts with this interpreter."""
        launched = self.group.run(label, [sys.executable, *argv], timeout)
        return json.loads(launched.result_line())


def wait_for_tcp(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RunFailed(f"nothing accepts connections on port {port}") from None
            time.sleep(0.05)


def start_master(cluster: Cluster, workers: int) -> tuple[str, str]:
    """A Master named ``bench`` with ``workers`` echo workers; returns (name, db_address)."""
    name = "bench"
    db, pull, pub, worker_pull, worker_push = (free_tcp_address() for _ in range(5))
    cluster.component("master", "master", "--name", name, "--db", db, "--pull", pull,
                      "--pub", pub, "--worker-pull", worker_pull, "--worker-push", worker_push)
    cluster.wait_cache(db, name)
    for index in range(workers):
        cluster.component("worker", f"worker{index + 1}", "--db", db,
                          "--name", f"worker{index + 1}")
    return name, db


def job_through_master(cluster: Cluster) -> dict:
    name, db = start_master(cluster, workers=2)
    count = cluster.sizes.job
    return cluster.drive("job", ["job", "--name", name, "--db", db,
                                 "--function", f"{name}.echo", "--count", str(count),
                                 "--warmup", str(cluster.sizes.warmup),
                                 "--reply-timeout", "10"],
                         timeout=60 + count / 100)


def _eval(cluster: Cluster, name: str, db: str) -> dict:
    sizes = cluster.sizes
    if cluster.side.key == ORIGINAL:
        count, wait = sizes.eval_original, sizes.original_eval_timeout_s
    else:
        count, wait = sizes.eval_ours, 5.0
    warmup = 20
    result = cluster.drive("eval", ["eval", "--name", name, "--db", db,
                                    "--function", f"{name}.echo", "--count", str(count),
                                    "--warmup", str(warmup), "--reply-timeout", str(wait),
                                    "--warmup-timeout", str(wait)],
                           timeout=60 + (count + warmup) * (wait + 0.05))
    result["lost_pct"] = 100.0 * result["lost"] / result["sent"]
    return result


def eval_on_server(cluster: Cluster) -> dict:
    name = "bench"
    db, pull, pub = (free_tcp_address() for _ in range(3))
    cluster.component("server", "server", "--name", name, "--db", db, "--pull", pull,
                      "--pub", pub)
    cluster.wait_cache(db, name)
    return _eval(cluster, name, db)


def original_client_evals_on_server(cluster: Cluster) -> dict:
    """pylm 0.14.4's Client (a fresh SUB socket per eval) against this side's Server."""
    if cluster.original is None:
        raise Unavailable("needs the pylm 0.14.4 interpreter for its client")
    name = "bench"
    db, pull, pub = (free_tcp_address() for _ in range(3))
    cluster.component("server", "server", "--name", name, "--db", db, "--pull", pull,
                      "--pub", pub)
    cluster.wait_cache(db, name)
    count, wait = cluster.sizes.eval_original, cluster.sizes.original_eval_timeout_s
    result = cluster.drive("original-client-eval",
                           ["eval", "--name", name, "--db", db, "--function", f"{name}.echo",
                            "--count", str(count), "--warmup", "0",
                            "--reply-timeout", str(wait)],
                           timeout=60 + count * (wait + 0.05), client=cluster.original)
    result["lost_pct"] = 100.0 * result["lost"] / result["sent"]
    return result


def eval_through_master(cluster: Cluster) -> dict:
    name, db = start_master(cluster, workers=1)
    return _eval(cluster, name, db)


def pipeline_of_three(cluster: Cluster) -> dict:
    """Server -> Pipeline -> Pipeline; the client reads the last step's output."""
    steps = ("source", "middle", "last")
    dbs = [free_tcp_address() for _ in steps]
    pubs = [free_tcp_address() for _ in steps]
    pull = free_tcp_address()
    cluster.component("server", steps[0], "--name", steps[0], "--db", dbs[0],
                      "--pull", pull, "--pub", pubs[0], "--pipelined")
    for index in (1, 2):
        cluster.component("pipeline", steps[index], "--name", steps[index], "--db", dbs[index],
                          "--sub", pubs[index - 1], "--pub", pubs[index],
                          "--previous", steps[index - 1],
                          "--to-client" if index == 2 else "--no-to-client")
    for name, db in zip(steps, dbs, strict=True):
        cluster.wait_cache(db, name)
    count = cluster.sizes.pipeline
    functions = [arg for step in steps for arg in ("--function", f"{step}.echo")]
    return cluster.drive("pipeline", ["job", "--name", steps[0], "--db", dbs[0],
                                      "--sub", pubs[2], *functions, "--count", str(count),
                                      "--warmup", str(cluster.sizes.warmup),
                                      "--reply-timeout", "10"],
                         timeout=60 + count / 100)


def http_gateway(cluster: Cluster) -> dict:
    name = "gateway"
    db, worker_pull, worker_push = (free_tcp_address() for _ in range(3))
    http_port = port_of(free_tcp_address())
    cluster.component("gateway", "gateway", "--name", name, "--db", db,
                      "--worker-pull", worker_pull, "--worker-push", worker_push,
                      "--http-port", str(http_port))
    cluster.wait_cache(db, name)
    for index in range(2):
        cluster.component("worker", f"worker{index + 1}", "--db", db,
                          "--name", f"worker{index + 1}")
    wait_for_tcp(http_port, time.monotonic() + STARTUP_S)
    common = [HTTP_LOAD, "--port", str(http_port), "--concurrency", "50", "--path", "/echo"]
    sizes = cluster.sizes
    cluster.local(f"{cluster.side.key}-http-warmup",
                  [*common, "--count", str(sizes.http_warmup)], timeout=120)
    return cluster.local(f"{cluster.side.key}-http-load",
                         [*common, "--count", str(sizes.http), "--deadline",
                          str(60 + sizes.http / 10)], timeout=120 + sizes.http / 10)


def raw_req_rep(cluster: Cluster) -> dict:
    address = free_tcp_address()
    server = cluster.group.start("raw-rep", [sys.executable, RAW_ZMQ, "rep", address])
    server.wait_for_line("READY", time.monotonic() + STARTUP_S, UNAVAILABLE_STATUS)
    return cluster.local("raw-req", [RAW_ZMQ, "req", address,
                                     "--count", str(cluster.sizes.raw_req)], timeout=120)


def raw_relay(cluster: Cluster) -> dict:
    pull, push = free_tcp_address(), free_tcp_address()
    relay = cluster.group.start("raw-relay", [sys.executable, RAW_ZMQ, "relay", pull, push])
    relay.wait_for_line("READY", time.monotonic() + STARTUP_S, UNAVAILABLE_STATUS)
    return cluster.local("raw-stream", [RAW_ZMQ, "stream", pull, push,
                                        "--count", str(cluster.sizes.raw_relay)], timeout=120)
