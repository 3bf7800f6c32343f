"""A pipelined message stream: a Server starts it, a Pipeline adds a step.

    python examples/pipeline/run.py

The client calls ``['my_server.foo', 'my_pipeline.foo']``: the server runs ``foo`` and
publishes the message under its own name; the pipeline, subscribed to ``my_server``, runs
its ``foo`` and sends the result back to the client, which reads the pipeline's publisher.
Each component runs in its own process; addresses are ipc:// files in a temporary folder.
"""

import argparse
import logging
import multiprocessing
import tempfile

from pylm.clients import Client
from pylm.servers import Pipeline, Server


class MyServer(Server):
    def foo(self, message: bytes) -> bytes:
        return b"you sent me " + message


class MyPipeline(Pipeline):
    def foo(self, message: bytes) -> bytes:
        return b"and I pipelined " + message


def server(folder: str) -> None:
    MyServer("my_server", db_address=f"ipc://{folder}/server-db",
             pull_address=f"ipc://{folder}/server-pull", pub_address=f"ipc://{folder}/server-pub",
             pipelined=True, log_level=logging.WARNING).start()


def pipeline(folder: str) -> None:
    MyPipeline("my_pipeline", db_address=f"ipc://{folder}/pipeline-db",
               sub_address=f"ipc://{folder}/server-pub", pub_address=f"ipc://{folder}/pipeline-pub",
               previous="my_server", to_client=True, log_level=logging.WARNING).start()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None,
                        help="where the ipc:// sockets go (default: a new temporary folder)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=parse_args(argv).folder) as folder:
        processes = [spawn.Process(target=part, args=(folder,)) for part in (server, pipeline)]
        for process in processes:
            process.start()
        try:
            with Client("my_server", f"ipc://{folder}/server-db",
                        sub_address=f"ipc://{folder}/pipeline-pub",
                        logging_level=logging.WARNING) as client:
                result = client.eval(["my_server.foo", "my_pipeline.foo"], b"a message",
                                     timeout=30)
                print("Client got:", result.decode())
        finally:
            for process in reversed(processes):
                process.terminate()
                process.join(10)


if __name__ == "__main__":
    main()
