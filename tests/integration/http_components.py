"""HTTP components the integration tests run as real processes.

    python http_components.py gateway NAME [--max-body N] [--timeout S]
    python http_components.py worker DB
    python http_components.py httpserver URL [--timeout S]   Pull -> HttpConnection -> Pub
    python http_components.py debugserver           an HTTP worker on wsgiref

The gateway is wired exactly as the PALM docs show (spec §4). Every bound address is a
wildcard or port 0: components log ``Cache listening on ADDRESS``, ``HttpGateway
listening on URL`` and ``DebugServer listening on URL``, which the tests read.
"""

import argparse
import os
import sys
import time

from pylm.parts.connections import HttpConnection
from pylm.parts.gateways import GatewayDealer, GatewayRouter, HttpGateway
from pylm.parts.servers import ServerTemplate
from pylm.parts.services import (
    CacheService,
    PubService,
    PullService,
    WorkerPullService,
    WorkerPushService,
)
from pylm.remote.server import DebugServer, RequestHandler, WSGIApplication
from pylm.servers import Worker

ANY = "tcp://127.0.0.1:*"


class HttpWorker(RequestHandler):
    def foo(self, payload: bytes) -> bytes:
        return payload + b" processed online"

    def fail(self, payload: bytes) -> bytes:
        raise ValueError(f"asked to fail on {payload[:20]!r}")

    def drop(self, payload: bytes) -> None:
        return None

    def pid(self, payload: bytes) -> bytes:
        return str(os.getpid()).encode()

    def sleepy(self, payload: bytes) -> bytes:
        time.sleep(float(payload))
        return b"woke up"


#: For WSGI servers: ``uvicorn --interface wsgi http_components:app``.
app = WSGIApplication(HttpWorker)


class GatewayWorker(Worker):
    def foo(self, payload: bytes) -> bytes:
        return b"foo:" + payload

    def slow(self, payload: bytes) -> bytes:
        time.sleep(0.02)
        return b"slow:" + payload

    def fail(self, payload: bytes) -> bytes:
        raise RuntimeError("this function always fails")


def gateway(name: str, max_body: int, timeout: float) -> None:
    inproc = "inproc://gateway_router"
    server = ServerTemplate()
    server.register_inbound(GatewayRouter, "gateway_router", inproc, route="WorkerPush")
    server.register_outbound(GatewayDealer, "gateway_dealer", listen_address=inproc)
    server.register_bypass(HttpGateway, name="HttpGateway", listen_address=inproc,
                           hostname="127.0.0.1", port=0, max_body=max_body, timeout=timeout)
    server.register_inbound(WorkerPullService, "WorkerPull", ANY, route="gateway_dealer")
    server.register_outbound(WorkerPushService, "WorkerPush", ANY)
    server.register_bypass(CacheService, "Cache", ANY)
    server.preset_cache(name=name, db_address=ANY, worker_pull_address=ANY,
                        worker_push_address=ANY)
    server.start()


def http_server(url: str, timeout: float) -> None:
    server = ServerTemplate(name="server")
    server.register_inbound(PullService, "Pull", ANY, route="HttpConnection")
    server.register_outbound(HttpConnection, "HttpConnection", url, route="Pub", max_workers=4,
                             timeout=timeout)
    server.register_outbound(PubService, "Pub", ANY)
    server.register_bypass(CacheService, "Cache", ANY)
    server.preset_cache(name="server", db_address=ANY, pull_address=ANY, pub_address=ANY)
    server.start()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="kind", required=True)
    g = sub.add_parser("gateway")
    g.add_argument("name")
    g.add_argument("--max-body", type=int, default=1024 * 1024)
    g.add_argument("--timeout", type=float, default=30.0)
    w = sub.add_parser("worker")
    w.add_argument("db")
    h = sub.add_parser("httpserver")
    h.add_argument("url")
    h.add_argument("--timeout", type=float, default=30.0)
    sub.add_parser("debugserver")
    args = parser.parse_args()
    if args.kind == "gateway":
        gateway(args.name, args.max_body, args.timeout)
    elif args.kind == "worker":
        GatewayWorker("", args.db).start()
    elif args.kind == "httpserver":
        http_server(args.url, args.timeout)
    else:
        DebugServer("127.0.0.1", 0, HttpWorker).serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
