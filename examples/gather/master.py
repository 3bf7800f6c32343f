#!/usr/bin/env python3
"""A master whose ``gather`` adds up every ``batch`` results and publishes only the sums."""

import argparse

from pylm.servers import Master


class SummingMaster(Master):
    def __init__(self, *args, batch: int = 10, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batch = batch
        self.total = 0
        self.count = 0

    def gather(self, message):
        self.total += int(message.payload)
        self.count += 1
        if self.count == self.batch:
            yield self.change_payload(message, str(self.total).encode())
            self.total = self.count = 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="gather")
    parser.add_argument("--batch", type=int, default=10)
    for flag, port in (("pull", 5555), ("pub", 5556), ("workerpull", 5557),
                       ("workerpush", 5558), ("db", 5559)):
        parser.add_argument(f"--{flag}", default=f"tcp://127.0.0.1:{port}")
    args = parser.parse_args(argv)
    SummingMaster(args.name, args.pull, args.pub, args.workerpull, args.workerpush, args.db,
                  batch=args.batch).start()


if __name__ == "__main__":
    main()
