"""A tee: two pipelines subscribed to one server both receive the whole stream.

    python examples/tee/run.py

Both pipelines are steps named ``my_pipeline`` (each has its own cache and publisher).
The first answers the client; the second only counts what it sees (in its cache) and
returns ``None``, which drops the message (nothing is published from it).

The server holds its messages until a first subscriber shows up, but it cannot know how
many branches to wait for: a branch that subscribes late misses what was published
before. So the client first sends probes until both branches have seen one.
"""

import argparse
import logging
import multiprocessing
import tempfile
import time
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
    counts = {"seen": 0, "probes": 0}

    def foo(self, message: bytes) -> None:
        kind = "probes" if message.endswith(b"probe") else "seen"
        if kind == "seen":
            self.logger.info("Echo: %s", message.decode())
        self.counts[kind] += 1
        self.cache[kind] = b"%d" % self.counts[kind]  # its own cache service serves it


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


def count(folder: str, key: str) -> int:
    """How many messages of a kind the silent branch has seen (from its cache)."""
    cache = CacheConnection(f"ipc://{folder}/silent-db", "my_pipeline")
    try:
        return int(cache.get(key, timeout=10) or b"0")
    finally:
        cache.close()


def until_both_branches_listen(client: Client, folder: str, timeout: float = 30.0) -> None:
    """Send probes until each branch of the tee has seen one (both have subscribed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.eval(["my_server.foo", "my_pipeline.foo"], b"probe", timeout=0.5)
        except TimeoutError:
            continue  # the answering branch missed it: it was not subscribed yet
        behind = time.monotonic() + 0.5  # the silent branch may be a little behind
        while time.monotonic() < behind:
            if count(folder, "probes"):
                return
            time.sleep(0.05)
    raise TimeoutError(f"the branches of the tee did not all subscribe within {timeout} s")


def wait_for_count(folder: str, expected: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while (seen := count(folder, "seen")) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return seen


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None,
                        help="where the ipc:// sockets go (default: a new temporary folder)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=parse_args(argv).folder) as folder:
        parts = (server, pipeline, silent_pipeline)
        processes = [spawn.Process(target=part, args=(folder,)) for part in parts]
        for process in processes:
            process.start()
        try:
            with Client("my_server", f"ipc://{folder}/server-db",
                        sub_address=f"ipc://{folder}/pipeline-pub",
                        logging_level=logging.WARNING) as client:
                until_both_branches_listen(client, folder)
                for response in client.job(["my_server.foo", "my_pipeline.foo"],
                                           repeat(b"a message", 10), messages=10, timeout=30):
                    print("Client got:", response.decode())
            print("The silent branch saw", wait_for_count(folder, 10), "messages")
        finally:
            for process in reversed(processes):
                process.terminate()
                process.join(10)


if __name__ == "__main__":
    main()
