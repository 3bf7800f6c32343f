#!/usr/bin/env python3
"""A worker that reads its parameters from the master's cache: ``scale`` multiplies by the
factor a client stored under the key named in the message's ``cache`` field... or, simply,
under the key ``factor``."""

import argparse

from pylm.servers import Worker


class ScaleWorker(Worker):
    def scale(self, payload: bytes) -> bytes:
        factor = int(self.get("factor") or b"1")
        return str(int(payload) * factor).encode()

    def remember(self, payload: bytes) -> bytes:
        """Store the payload in the master's cache; answer the generated key."""
        return self.set(payload).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="tcp://127.0.0.1:5559")
    args = parser.parse_args(argv)
    ScaleWorker(db_address=args.db).start()


if __name__ == "__main__":
    main()
