"""Routing a stream into two halves, then joining them again with a Sink.

    python examples/sink/run.py

The server sends even messages to topic ``even`` and odd ones to ``odd``; a pipeline
takes each half and passes it on (``to_client=False``: it publishes under its own name);
the sink subscribes to both pipelines (``sub_addresses`` and ``previous`` are zipped
pairwise) and answers the client, which reads the sink's publisher.
"""

import argparse
import logging
import multiprocessing
import tempfile

from pylm.clients import Client
from pylm.discovery import CacheConnection
from pylm.servers import Pipeline, Server, Sink


class MyServer(Server):
    def foo(self, message: bytes) -> bytes:
        return message

    def handle_stream(self, message):
        number = int(message.payload.split()[-1])
        message.stage += 1
        return ("even" if number % 2 == 0 else "odd"), message


class MyPipeline(Pipeline):
    def foo(self, message: bytes) -> bytes:
        return message + b", pipelined by the " + self.previous.encode() + b" branch"


class MySink(Sink):
    def foo(self, message: bytes) -> bytes:
        return message + b", and gathered"


def server(folder: str) -> None:
    MyServer("my_server", db_address=f"ipc://{folder}/server-db",
             pull_address=f"ipc://{folder}/server-pull", pub_address=f"ipc://{folder}/server-pub",
             pipelined=True, log_level=logging.WARNING).start()


def branch(folder: str, topic: str) -> None:
    MyPipeline("my_pipeline", db_address=f"ipc://{folder}/{topic}-db",
               sub_address=f"ipc://{folder}/server-pub", pub_address=f"ipc://{folder}/{topic}-pub",
               previous=topic, to_client=False, log_level=logging.WARNING).start()


def sink(folder: str) -> None:
    MySink("my_sink", db_address=f"ipc://{folder}/sink-db",
           sub_addresses=[f"ipc://{folder}/even-pub", f"ipc://{folder}/odd-pub"],
           pub_address=f"ipc://{folder}/sink-pub", previous=["my_pipeline", "my_pipeline"],
           to_client=True, log_level=logging.WARNING).start()


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
            spawn.Process(target=branch, args=(folder, "even")),
            spawn.Process(target=branch, args=(folder, "odd")),
            spawn.Process(target=sink, args=(folder,)),
        ]
        for process in processes:
            process.start()
        try:
            for name, db in (("my_pipeline", "even-db"), ("my_pipeline", "odd-db"),
                             ("my_sink", "sink-db")):
                cache = CacheConnection(f"ipc://{folder}/{db}", name)
                cache.expect_server(name, timeout=30)
                cache.close()
            with Client("my_server", f"ipc://{folder}/server-db",
                        sub_address=f"ipc://{folder}/sink-pub",
                        logging_level=logging.WARNING) as client:
                payloads = (b"message %d" % i for i in range(10))
                results = client.job(["my_server.foo", "my_pipeline.foo", "my_sink.foo"],
                                     payloads, messages=10, timeout=30)
                for response in sorted(results):
                    print("Client got:", response.decode())
        finally:
            for process in reversed(processes):
                process.terminate()
                process.join(10)


if __name__ == "__main__":
    main()
