#!/usr/bin/env python3
"""A worker of the parallel server: squares the integer it is given."""

import argparse

from pylm.servers import Worker


class SquareWorker(Worker):
    def square(self, payload: bytes) -> bytes:
        return str(int(payload) ** 2).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="tcp://127.0.0.1:5559")
    args = parser.parse_args(argv)
    SquareWorker(db_address=args.db).start()


if __name__ == "__main__":
    main()
