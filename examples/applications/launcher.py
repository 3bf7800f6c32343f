#!/usr/bin/env python3
"""The client of the example cluster: sends ten messages and prints the ten results."""

import argparse
import sys

from pylm.clients import Client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", default="test", help="the master's name (default: test)")
    parser.add_argument("--function", default="foo", help="the workers' function (default: foo)")
    parser.add_argument("--db", default="tcp://127.0.0.1:5559", help="the master's cache service")
    parser.add_argument("--messages", type=int, default=10, help="how many (default: 10)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait per result")
    args = parser.parse_args(argv)
    try:
        with Client(args.server, args.db, timeout=args.timeout) as client:
            payloads = (b"a message" for _ in range(args.messages))
            for result in client.job(f"{args.server}.{args.function}", payloads,
                                     messages=args.messages, timeout=args.timeout):
                print(result, flush=True)
    except TimeoutError as exc:
        print(f"launcher: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
