#!/usr/bin/env python3
"""Uses a master's cache: stores a factor that workers read, and reads what a worker stored.

Run it against ``examples/parallel/master.py --name cache`` and ``examples/cache/worker.py``.
"""

import argparse

from pylm.clients import Client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="cache")
    parser.add_argument("--db", default="tcp://127.0.0.1:5559")
    args = parser.parse_args(argv)
    with Client(args.name, args.db) as client:
        client.set(b"10", "factor")
        print("factor:", client.get("factor"))
        print("scaled:", [client.eval(f"{args.name}.scale", b"%d" % i, timeout=10)
                          for i in range(1, 4)])
        key = client.eval(f"{args.name}.remember", b"stored by a worker", timeout=10).decode()
        print("a worker stored:", client.get(key))
        client.delete(key)
        print("after delete:", client.get(key))


if __name__ == "__main__":
    main()
