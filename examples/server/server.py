#!/usr/bin/env python3
"""A single-process server with one function, ``reverse``."""

import argparse

from pylm.servers import Server


class ReverseServer(Server):
    def reverse(self, payload: bytes) -> bytes:
        return payload[::-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="reverser")
    parser.add_argument("--db", default="tcp://127.0.0.1:5555", help="the cache service")
    parser.add_argument("--pull", default="tcp://127.0.0.1:5556", help="where clients push")
    parser.add_argument("--pub", default="tcp://127.0.0.1:5557", help="where clients subscribe")
    args = parser.parse_args(argv)
    ReverseServer(args.name, args.db, args.pull, args.pub).start()


if __name__ == "__main__":
    main()
