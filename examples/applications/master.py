#!/usr/bin/env python3
"""The master of the example cluster: spreads the launcher's messages over the workers."""

import argparse

from pylm.servers import Master


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="test", help="the server's name (default: test)")
    parser.add_argument("--pull", default="tcp://127.0.0.1:5555", help="where clients push")
    parser.add_argument("--pub", default="tcp://127.0.0.1:5556", help="where clients subscribe")
    parser.add_argument("--workerpull", default="tcp://127.0.0.1:5557", help="workers' results")
    parser.add_argument("--workerpush", default="tcp://127.0.0.1:5558", help="work for workers")
    parser.add_argument("--db", default="tcp://127.0.0.1:5559", help="the cache service")
    args = parser.parse_args(argv)
    server = Master(
        name=args.name,
        pull_address=args.pull,
        pub_address=args.pub,
        worker_pull_address=args.workerpull,
        worker_push_address=args.workerpush,
        db_address=args.db,
    )
    server.start()


if __name__ == "__main__":
    main()
