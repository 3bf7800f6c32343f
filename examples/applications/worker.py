#!/usr/bin/env python3
"""A worker of the example cluster: answers ``foo`` with its own name."""

import argparse

from pylm.servers import Worker


class MyWorker(Worker):
    def foo(self, message: bytes) -> bytes:
        return self.name.encode() + b" processed a message"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="", help="the worker's name (default: a random one)")
    parser.add_argument("--db", default="tcp://127.0.0.1:5559", help="the master's cache service")
    args = parser.parse_args(argv)
    MyWorker(args.name, db_address=args.db).start()


if __name__ == "__main__":
    main()
