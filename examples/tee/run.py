"""A tee: two pipelines subscribed to one server both receive the whole stream.

    python examples/tee/run.py

Both pipelines are steps named ``my_pipeline`` (each has its own cache and publisher).
The first answers the client; the second only logs what it sees and returns ``None``,
which drops the message (nothing is published from it).

The server holds its messages until a first subscriber shows up, but it cannot know how
many branches to wait for: start every branch of a tee before the stream begins (here the
client waits until both pipelines answer on their cache service).
"""

import logging
import multiprocessing
import tempfile
from itertools import repeat

from pylm.clients import Client
from pylm.discovery import CacheConnection
from pylm.servers import Pipeline, Server


class MyServer(Server):
    def foo(self, message: bytes) -> bytes:
        return b"you sent me " + message


class MyPipeline(Pipeline):
    def foo(self, message: bytes) -> bytes:
        return b"and I pipelined " + message


class SilentPipeline(Pipeline):
    def foo(self, message: bytes) -> None:
        self.logger.warning("Echo: %s", message.decode())


def server(folder: str) -> None:
    MyServer("my_server", db_address=f"ipc://{folder}/server-db",
             pull_address=f"ipc://{folder}/server-pull", pub_address=f"ipc://{folder}/server-pub",
             pipelined=True, log_level=logging.WARNING).start()


def pipeline(folder: str) -> None:
    MyPipeline("my_pipeline", db_address=f"ipc://{folder}/pipeline-db",
               sub_address=f"ipc://{folder}/server-pub", pub_address=f"ipc://{folder}/pipeline-pub",
               previous="my_server", to_client=True, log_level=logging.WARNING).start()


def silent_pipeline(folder: str) -> None:
    SilentPipeline("my_pipeline", db_address=f"ipc://{folder}/silent-db",
                   sub_address=f"ipc://{folder}/server-pub",
                   pub_address=f"ipc://{folder}/silent-pub",
                   previous="my_server", to_client=True, log_level=logging.WARNING).start()


def main() -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        parts = (server, pipeline, silent_pipeline)
        processes = [spawn.Process(target=part, args=(folder,)) for part in parts]
        for process in processes:
            process.start()
        try:
            for branch in ("pipeline", "silent"):
                cache = CacheConnection(f"ipc://{folder}/{branch}-db", "my_pipeline")
                cache.expect_server("my_pipeline", timeout=30)
                cache.close()
            with Client("my_server", f"ipc://{folder}/server-db",
                        sub_address=f"ipc://{folder}/pipeline-pub",
                        logging_level=logging.WARNING) as client:
                for response in client.job(["my_server.foo", "my_pipeline.foo"],
                                           repeat(b"a message", 10), messages=10, timeout=30):
                    print("Client got:", response.decode())
        finally:
            for process in reversed(processes):
                process.terminate()
                process.join(10)


if __name__ == "__main__":
    main()
