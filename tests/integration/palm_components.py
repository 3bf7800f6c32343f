"""Components the integration tests run as real processes.

    python palm_components.py master NAME [--heartbeat S] [--pipelined]
    python palm_components.py template-master NAME [--heartbeat S]
    python palm_components.py server NAME [--messages N]
    python palm_components.py worker DB [--prefetch N] [--name NAME]
    python palm_components.py muxworker DB

Every address is a wildcard (``tcp://127.0.0.1:*``): the OS picks free ports and the
component logs ``Cache listening on ADDRESS``, which the tests read to find it.
"""

import argparse
import os
import sys
import time

from pylm.parts.servers import ServerTemplate
from pylm.parts.services import (
    CacheService,
    PubService,
    PullService,
    WorkerPullService,
    WorkerPushService,
)
from pylm.servers import Master, MuxWorker, Server, Worker

ANY = "tcp://127.0.0.1:*"


class TestServer(Server):
    def echo(self, payload: bytes) -> bytes:
        return payload

    def upper(self, payload: bytes) -> bytes:
        return payload.upper()

    def fail(self, payload: bytes) -> bytes:
        if payload.startswith(b"fail"):
            raise ValueError(f"asked to fail on {payload!r}")
        return payload


class TestWorker(Worker):
    def upper(self, payload: bytes) -> bytes:
        return payload.upper()

    def fail(self, payload: bytes) -> bytes:
        if payload.startswith(b"fail"):
            raise ValueError(f"asked to fail on {payload!r}")
        return payload

    def slow(self, payload: bytes) -> bytes:
        time.sleep(0.01)
        return payload

    def slow_pid(self, payload: bytes) -> bytes:
        time.sleep(0.02)
        return f"{os.getpid()}:".encode() + payload

    def poison(self, payload: bytes) -> bytes:
        if payload == b"poison":
            os._exit(9)  # dies like a segfault would: no goodbye
        return payload

    def cached(self, payload: bytes) -> bytes:
        return self.get(payload.decode())

    def store(self, payload: bytes) -> bytes:
        return self.set(payload).encode()


class TestMuxWorker(MuxWorker):
    def three(self, payload: bytes):
        for i in range(3):
            yield payload + b"-%d" % i


class HandMadeMaster(ServerTemplate):
    """A Master assembled by hand from parts, exactly as spec §4 describes it."""

    def __init__(self, name: str, heartbeat: float) -> None:
        super().__init__(name=name)
        self.register_inbound(PullService, "Pull", ANY, route="WorkerPush")
        self.register_inbound(WorkerPullService, "WorkerPull", ANY, route="Pub")
        self.register_outbound(WorkerPushService, "WorkerPush", ANY, heartbeat=heartbeat)
        self.register_outbound(PubService, "Pub", ANY)
        self.register_bypass(CacheService, "Cache", ANY)
        self.preset_cache(name=name, pull_address=ANY, pub_address=ANY,
                          worker_pull_address=ANY, worker_push_address=ANY, db_address=ANY)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="kind", required=True)
    m = sub.add_parser("master")
    m.add_argument("name")
    m.add_argument("--heartbeat", type=float, default=1.0)
    m.add_argument("--pipelined", action="store_true")
    t = sub.add_parser("template-master")
    t.add_argument("name")
    t.add_argument("--heartbeat", type=float, default=1.0)
    s = sub.add_parser("server")
    s.add_argument("name")
    s.add_argument("--messages", type=int, default=sys.maxsize)
    for kind in ("worker", "muxworker"):
        w = sub.add_parser(kind)
        w.add_argument("db")
        w.add_argument("--prefetch", type=int, default=32)
        w.add_argument("--name", default="")
    args = parser.parse_args()
    if args.kind == "master":
        Master(args.name, ANY, ANY, ANY, ANY, ANY, pipelined=args.pipelined,
               heartbeat=args.heartbeat).start()
    elif args.kind == "template-master":
        HandMadeMaster(args.name, args.heartbeat).start()
    elif args.kind == "server":
        TestServer(args.name, ANY, ANY, ANY, messages=args.messages).start()
    elif args.kind == "worker":
        TestWorker(args.name, args.db, prefetch=args.prefetch).start()
    else:
        TestMuxWorker(args.name, args.db, prefetch=args.prefetch).start()


if __name__ == "__main__":
    main()
