#!/usr/bin/env python3
"""Sends 1..100 to be squared; the master gathers them into ten sums of ten squares."""

import argparse

from pylm.clients import Client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="gather")
    parser.add_argument("--db", default="tcp://127.0.0.1:5559")
    args = parser.parse_args(argv)
    with Client(args.name, args.db) as client:
        numbers = (str(i).encode() for i in range(1, 101))
        sums = [int(s) for s in client.job(f"{args.name}.square", numbers, messages=10,
                                           timeout=30)]
    print(f"{len(sums)} partial sums, total {sum(sums)}")


if __name__ == "__main__":
    main()
