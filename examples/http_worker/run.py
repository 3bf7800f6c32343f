"""Functions served over HTTP as workers ("server-less" workers).

    python examples/http_worker/run.py

``MyHandler`` is an HTTP worker: a WSGI application any WSGI server can run (here the
small ``DebugServer``; in production e.g. ``gunicorn run:app``). The PALM server is built
from parts: Pull -> HttpConnection (POSTs each message to the worker) -> Pub, plus a cache.
"""

import argparse
import logging
import multiprocessing
import tempfile
from itertools import repeat

from pylm.clients import Client
from pylm.parts.connections import HttpConnection
from pylm.parts.servers import ServerTemplate
from pylm.parts.services import CacheService, PubService, PullService
from pylm.remote.server import DebugServer, RequestHandler, WSGIApplication


class MyHandler(RequestHandler):
    def foo(self, payload: bytes) -> bytes:
        return payload + b" processed online"


app = WSGIApplication(MyHandler)


def http_worker(ports: multiprocessing.Queue) -> None:
    server = DebugServer("127.0.0.1", 0, MyHandler)  # port 0: a free port
    ports.put(server.port)
    server.serve_forever()


def palm_server(folder: str, url: str) -> None:
    server = ServerTemplate(logging_level=logging.WARNING, name="server")
    db_address = f"ipc://{folder}/db"
    pull_address = f"ipc://{folder}/pull"
    pub_address = f"ipc://{folder}/pub"
    server.register_inbound(PullService, "Pull", pull_address, route="HttpConnection")
    server.register_outbound(HttpConnection, "HttpConnection", url, route="Pub", max_workers=4)
    server.register_outbound(PubService, "Pub", pub_address)
    server.register_bypass(CacheService, "Cache", db_address)
    server.preset_cache(name="server", db_address=db_address, pull_address=pull_address,
                        pub_address=pub_address)
    server.start()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None,
                        help="where the ipc:// sockets go (default: a new temporary folder)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    spawn = multiprocessing.get_context("spawn")
    ports = spawn.Queue()
    with tempfile.TemporaryDirectory(dir=parse_args(argv).folder) as folder:
        processes = [spawn.Process(target=http_worker, args=(ports,))]
        processes[0].start()
        try:
            url = f"http://127.0.0.1:{ports.get(timeout=30)}"
            processes.append(spawn.Process(target=palm_server, args=(folder, url)))
            processes[1].start()
            with Client("server", f"ipc://{folder}/db", logging_level=logging.WARNING) as client:
                for response in client.job("server.foo", repeat(b"a message", 10), messages=10,
                                           timeout=30):
                    print("Client got:", response.decode())
        finally:
            for process in reversed(processes):
                process.terminate()
                process.join(10)


if __name__ == "__main__":
    main()
