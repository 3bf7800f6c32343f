#!/usr/bin/env python3
"""Sends one line of words; the master scatters it, so one result comes back per word."""

import argparse

from pylm.clients import Client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="scatter")
    parser.add_argument("--db", default="tcp://127.0.0.1:5559")
    args = parser.parse_args(argv)
    line = b"the quick brown fox jumps"
    with Client(args.name, args.db) as client:
        words = client.eval(f"{args.name}.upper", line, messages=len(line.split()), timeout=10)
    print(sorted(words))


if __name__ == "__main__":
    main()
