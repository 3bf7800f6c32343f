#!/usr/bin/env python3
"""A worker that upper-cases a word."""

import argparse

from pylm.servers import Worker


class UpperWorker(Worker):
    def upper(self, payload: bytes) -> bytes:
        return payload.upper()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="tcp://127.0.0.1:5559")
    args = parser.parse_args(argv)
    UpperWorker(db_address=args.db).start()


if __name__ == "__main__":
    main()
