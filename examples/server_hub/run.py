"""A Server feeding a Hub, which spreads the stream over its own workers.

    python examples/server_hub/run.py

The server (``pipelined=True``) publishes under its own name; the hub subscribes to it
(``previous='server'``) and works like a master whose messages come from that stream
instead of from clients. Its workers connect to the hub's ``db_address``; the client
reads the hub's publisher.
"""

import argparse
import logging
import multiprocessing
import tempfile

from pylm.clients import Client
from pylm.servers import Hub, Server, Worker


class MyServer(Server):
    def foo(self, message: bytes) -> bytes:
        return b"you sent me " + message


class MyWorker(Worker):
    def foo(self, message: bytes) -> bytes:
        return self.name.encode() + b" processed " + message


def server(folder: str) -> None:
    MyServer("server", db_address=f"ipc://{folder}/server-db",
             pull_address=f"ipc://{folder}/server-pull", pub_address=f"ipc://{folder}/server-pub",
             pipelined=True, log_level=logging.WARNING).start()


def hub(folder: str) -> None:
    Hub(name="hub", sub_address=f"ipc://{folder}/server-pub", pub_address=f"ipc://{folder}/hub-pub",
        worker_pull_address=f"ipc://{folder}/worker-pull",
        worker_push_address=f"ipc://{folder}/worker-push",
        db_address=f"ipc://{folder}/hub-db", previous="server", pipelined=False,
        log_level=logging.WARNING).start()


def worker(folder: str, name: str) -> None:
    MyWorker(name, f"ipc://{folder}/hub-db", log_level=logging.WARNING).start()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None,
                        help="where the ipc:// sockets go (default: a new temporary folder)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=parse_args(argv).folder) as folder:
        processes = [
            spawn.Process(target=server, args=(folder,)),
            spawn.Process(target=hub, args=(folder,)),
            spawn.Process(target=worker, args=(folder, "worker-1")),
            spawn.Process(target=worker, args=(folder, "worker-2")),
        ]
        for process in processes:
            process.start()
        try:
            with Client("server", f"ipc://{folder}/server-db",
                        sub_address=f"ipc://{folder}/hub-pub",
                        logging_level=logging.WARNING) as client:
                for i in range(3):
                    result = client.eval(["server.foo", "hub.foo"], b"message %d" % i, timeout=30)
                    print("Client got:", result.decode())
        finally:
            for process in reversed(processes):
                process.terminate()
                process.join(10)


if __name__ == "__main__":
    main()
