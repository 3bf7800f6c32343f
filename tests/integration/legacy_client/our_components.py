"""Start one of OUR PALM components for the legacy-client tests (our interpreter).

Usage: ``our_components.py server NAME DB PULL PUB`` /
``our_components.py master NAME DB PULL PUB WORKER_PULL WORKER_PUSH`` /
``our_components.py worker NAME DB``. Each user function has an answer that differs
from its input, so an echo of the request cannot pass for a result.
"""

import logging
import sys

from pylm.servers import Master, Server, Worker


class ReversingServer(Server):
    def reverse(self, payload: bytes) -> bytes:
        return payload[::-1]


class ReversingWorker(Worker):
    def reverse(self, payload: bytes) -> bytes:
        return payload[::-1]


def main(argv: list[str]) -> None:
    role, name, *addresses = argv
    if role == "server":
        db, pull, pub = addresses
        ReversingServer(name, db, pull, pub, log_level=logging.WARNING).start()
    elif role == "master":
        db, pull, pub, worker_pull, worker_push = addresses
        Master(name, pull, pub, worker_pull, worker_push, db, log_level=logging.WARNING).start()
    elif role == "worker":
        (db,) = addresses
        ReversingWorker(name, db, log_level=logging.WARNING).start()
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
