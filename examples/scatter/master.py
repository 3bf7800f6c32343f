#!/usr/bin/env python3
"""A master whose ``scatter`` splits each message (a line of words) into one per word."""

import argparse

from pylm.message import PalmMessage
from pylm.servers import Master


class SplittingMaster(Master):
    def scatter(self, message):
        for word in message.payload.split():
            copy = PalmMessage()
            copy.CopyFrom(message)
            yield self.change_payload(copy, word)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="scatter")
    for flag, port in (("pull", 5555), ("pub", 5556), ("workerpull", 5557),
                       ("workerpush", 5558), ("db", 5559)):
        parser.add_argument(f"--{flag}", default=f"tcp://127.0.0.1:{port}")
    args = parser.parse_args(argv)
    SplittingMaster(args.name, args.pull, args.pub, args.workerpull, args.workerpush,
                    args.db).start()


if __name__ == "__main__":
    main()
