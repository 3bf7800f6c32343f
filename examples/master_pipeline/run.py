"""A Master and its workers feeding a Pipeline.

    python examples/master_pipeline/run.py

The master (``pipelined=True``) spreads the client's messages over two workers and
publishes their results under its own name; the pipeline adds a serial step and answers
the client, which reads the pipeline's publisher.
"""

import argparse
import logging
import multiprocessing
import tempfile
from itertools import repeat

from pylm.clients import Client
from pylm.servers import Master, Pipeline, Worker


class MyWorker(Worker):
    def foo(self, message: bytes) -> bytes:
        return self.name.encode() + b" processed " + message


class MyPipeline(Pipeline):
    def foo(self, message: bytes) -> bytes:
        return b"and I pipelined " + message


def master(folder: str) -> None:
    Master(name="server", pull_address=f"ipc://{folder}/pull", pub_address=f"ipc://{folder}/pub",
           worker_pull_address=f"ipc://{folder}/worker-pull",
           worker_push_address=f"ipc://{folder}/worker-push",
           db_address=f"ipc://{folder}/db", pipelined=True, log_level=logging.WARNING).start()


def worker(folder: str, name: str) -> None:
    MyWorker(name, f"ipc://{folder}/db", log_level=logging.WARNING).start()


def pipeline(folder: str) -> None:
    MyPipeline("my_pipeline", db_address=f"ipc://{folder}/pipeline-db",
               sub_address=f"ipc://{folder}/pub", pub_address=f"ipc://{folder}/pipeline-pub",
               previous="server", to_client=True, log_level=logging.WARNING).start()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None,
                        help="where the ipc:// sockets go (default: a new temporary folder)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=parse_args(argv).folder) as folder:
        processes = [
            spawn.Process(target=master, args=(folder,)),
            spawn.Process(target=worker, args=(folder, "worker-1")),
            spawn.Process(target=worker, args=(folder, "worker-2")),
            spawn.Process(target=pipeline, args=(folder,)),
        ]
        for process in processes:
            process.start()
        try:
            with Client("server", f"ipc://{folder}/db", sub_address=f"ipc://{folder}/pipeline-pub",
                        logging_level=logging.WARNING) as client:
                for response in client.job(["server.foo", "my_pipeline.foo"],
                                           repeat(b"a message", 10), messages=10, timeout=30):
                    print("Client got:", response.decode())
        finally:
            for process in reversed(processes):
                process.terminate()
                process.join(10)


if __name__ == "__main__":
    main()
