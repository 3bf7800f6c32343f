#!/usr/bin/env python3
"""Calls the single server: one ``eval``, then a ``job`` of five messages."""

import argparse

from pylm.clients import Client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="reverser")
    parser.add_argument("--db", default="tcp://127.0.0.1:5555")
    args = parser.parse_args(argv)
    with Client(args.name, args.db) as client:
        print(client.eval(f"{args.name}.reverse", b"hello world", timeout=10))
        words = (w.encode() for w in ("one", "two", "three", "four", "five"))
        for result in client.job(f"{args.name}.reverse", words, timeout=10):
            print(result)


if __name__ == "__main__":
    main()
