"""Routing a stream: the server sends even messages to one topic and odd ones to another.

    python examples/stream_routing/run.py

``handle_stream`` chooses each outgoing message's topic (and moves its stage on). The
pipeline subscribed to ``even`` answers the client; the one subscribed to ``odd`` only
logs and counts in its cache. The client sends 10 messages and gets the 5 even ones back.
"""

import argparse
import logging
import multiprocessing
import tempfile
import time

from pylm.clients import Client
from pylm.discovery import CacheConnection
from pylm.servers import Pipeline, Server


class MyServer(Server):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.counter = 0

    def foo(self, message: bytes) -> bytes:
        return b"you sent me " + message

    def handle_stream(self, message):
        topic = "even" if self.counter % 2 == 0 else "odd"
        self.counter += 1
        message.stage += 1  # remember to move the stage on
        return topic, message


class EvenPipeline(Pipeline):
    def foo(self, message: bytes) -> bytes:
        return b"and I pipelined " + message


class OddPipeline(Pipeline):
    seen = 0

    def foo(self, message: bytes) -> None:
        self.logger.info("Odd one: %s", message.decode())
        self.seen += 1
        self.cache["seen"] = b"%d" % self.seen  # the pipeline's own cache service serves it


def server(folder: str) -> None:
    MyServer("my_server", db_address=f"ipc://{folder}/server-db",
             pull_address=f"ipc://{folder}/server-pull", pub_address=f"ipc://{folder}/server-pub",
             pipelined=True, log_level=logging.WARNING).start()


def even(folder: str) -> None:
    EvenPipeline("my_pipeline", db_address=f"ipc://{folder}/even-db",
                 sub_address=f"ipc://{folder}/server-pub", pub_address=f"ipc://{folder}/even-pub",
                 previous="even", to_client=True, log_level=logging.WARNING).start()


def odd(folder: str) -> None:
    OddPipeline("my_pipeline", db_address=f"ipc://{folder}/odd-db",
                sub_address=f"ipc://{folder}/server-pub", pub_address=f"ipc://{folder}/odd-pub",
                previous="odd", to_client=True, log_level=logging.WARNING).start()


def wait_for_count(db_address: str, count: int, timeout: float = 30.0) -> int:
    """Poll the odd pipeline's cache until it has seen ``count`` messages."""
    cache = CacheConnection(db_address, "my_pipeline")
    deadline = time.monotonic() + timeout
    try:
        while True:
            seen = int(cache.get("seen", timeout=timeout) or b"0")
            if seen >= count or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)
    finally:
        cache.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None,
                        help="where the ipc:// sockets go (default: a new temporary folder)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=parse_args(argv).folder) as folder:
        processes = [spawn.Process(target=part, args=(folder,)) for part in (server, even, odd)]
        for process in processes:
            process.start()
        try:
            for branch in ("even", "odd"):  # both branches up before the stream starts
                cache = CacheConnection(f"ipc://{folder}/{branch}-db", "my_pipeline")
                cache.expect_server("my_pipeline", timeout=30)
                cache.close()
            with Client("my_server", f"ipc://{folder}/server-db",
                        sub_address=f"ipc://{folder}/even-pub",
                        logging_level=logging.WARNING) as client:
                payloads = (b"message %d" % i for i in range(10))
                for response in client.job(["my_server.foo", "my_pipeline.foo"], payloads,
                                           messages=5, timeout=30):
                    print("Client got:", response.decode())
            print("The odd branch saw", wait_for_count(f"ipc://{folder}/odd-db", 5), "messages")
        finally:
            for process in reversed(processes):
                process.terminate()
                process.join(10)


if __name__ == "__main__":
    main()
