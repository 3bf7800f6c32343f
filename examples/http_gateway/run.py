"""Turning a master into a web service with the HTTP gateway.

    python examples/http_gateway/run.py

The component is assembled from parts exactly as the PALM docs show: the gateway router
and dealer share an inproc address, the HTTP gateway serves HTTP, and ordinary workers
connect to the cache's ``db_address``. ``POST /function`` calls the workers' ``function``
with the request body and answers with the result. The HTTP port is 0 (a free one): the
gateway stores its URL in the cache under ``http_address``.
"""

import argparse
import logging
import multiprocessing
import tempfile
import urllib.error
import urllib.request

from pylm.discovery import CacheConnection
from pylm.parts.gateways import GatewayDealer, GatewayRouter, HttpGateway
from pylm.parts.servers import ServerTemplate
from pylm.parts.services import CacheService, WorkerPullService, WorkerPushService
from pylm.servers import Worker


class MyWorker(Worker):
    def function(self, message: bytes) -> bytes:
        return b"acknowledged " + message


def gateway(folder: str) -> None:
    worker_pull_address = f"ipc://{folder}/worker-pull"
    worker_push_address = f"ipc://{folder}/worker-push"
    db_address = f"ipc://{folder}/db"
    server = ServerTemplate(logging_level=logging.WARNING)
    server.register_inbound(GatewayRouter, "gateway_router", "inproc://gateway_router",
                            route="WorkerPush")
    server.register_outbound(GatewayDealer, "gateway_dealer",
                             listen_address="inproc://gateway_router")
    server.register_bypass(HttpGateway, name="HttpGateway",
                           listen_address="inproc://gateway_router",
                           hostname="127.0.0.1", port=0)
    server.register_inbound(WorkerPullService, "WorkerPull", worker_pull_address,
                            route="gateway_dealer")
    server.register_outbound(WorkerPushService, "WorkerPush", worker_push_address)
    server.register_bypass(CacheService, "Cache", db_address)
    server.preset_cache(name="server", db_address=db_address,
                        worker_pull_address=worker_pull_address,
                        worker_push_address=worker_push_address)
    server.start()


def worker(folder: str) -> None:
    MyWorker(db_address=f"ipc://{folder}/db", log_level=logging.WARNING).start()


def post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None,
                        help="where the ipc:// sockets go (default: a new temporary folder)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=parse_args(argv).folder) as folder:
        processes = [spawn.Process(target=gateway, args=(folder,)),
                     spawn.Process(target=worker, args=(folder,))]
        for process in processes:
            process.start()
        try:
            cache = CacheConnection(f"ipc://{folder}/db", "server")
            url = cache.address("http_address", timeout=30)
            cache.close()
            print("POST /function:", *post(url + "/function", b"a request"))
            print("POST /missing:", *post(url + "/missing", b"a request"))
        finally:
            for process in reversed(processes):
                process.terminate()
                process.join(10)


if __name__ == "__main__":
    main()
