#!/usr/bin/env python3
"""The master of a parallel server: spreads messages over however many workers join."""

import argparse

from pylm.servers import Master


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="squares")
    for flag, port in (("pull", 5555), ("pub", 5556), ("workerpull", 5557),
                       ("workerpush", 5558), ("db", 5559)):
        parser.add_argument(f"--{flag}", default=f"tcp://127.0.0.1:{port}")
    args = parser.parse_args(argv)
    Master(args.name, args.pull, args.pub, args.workerpull, args.workerpush, args.db).start()


if __name__ == "__main__":
    main()
