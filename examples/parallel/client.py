#!/usr/bin/env python3
"""Sends the integers 0..N-1 to the parallel server and prints the sum of their squares."""

import argparse

from pylm.clients import Client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="squares")
    parser.add_argument("--db", default="tcp://127.0.0.1:5559")
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args(argv)
    with Client(args.name, args.db) as client:
        numbers = (str(i).encode() for i in range(args.n))
        total = sum(int(r) for r in client.job(f"{args.name}.square", numbers, timeout=30))
    print(f"sum of squares below {args.n}: {total}")


if __name__ == "__main__":
    main()
