"""Start one PALM component for a benchmark (runs under either project's interpreter).

Usage: ``python components.py ROLE [options]``. The same code serves both projects
because they share the public API of spec §3/§4; only the interpreter (and with it
the ``pylm`` that gets imported) differs. Prints ``READY`` once the component is
built, just before it starts serving. Exits with status 3 and a line
``UNAVAILABLE: ...`` when the imported pylm lacks the role's feature.
"""

from __future__ import annotations

import argparse
import logging
import sys

UNAVAILABLE_STATUS = 3


def _unavailable(what: str, error: Exception) -> None:
    print(f"UNAVAILABLE: {what}: {error}", flush=True)
    sys.exit(UNAVAILABLE_STATUS)


def _ready() -> None:
    print("READY", flush=True)


def run_server(args: argparse.Namespace) -> None:
    try:
        from pylm.servers import Server
    except ImportError as error:
        _unavailable("pylm.servers.Server", error)

    class EchoServer(Server):
        def echo(self, payload: bytes) -> bytes:
            return payload

    server = EchoServer(
        args.name,
        db_address=args.db,
        pull_address=args.pull,
        pub_address=args.pub,
        pipelined=args.pipelined,
        log_level=logging.WARNING,
    )
    _ready()
    server.start()


def run_master(args: argparse.Namespace) -> None:
    try:
        from pylm.servers import Master
    except ImportError as error:
        _unavailable("pylm.servers.Master", error)
    master = Master(
        name=args.name,
        pull_address=args.pull,
        pub_address=args.pub,
        worker_pull_address=args.worker_pull,
        worker_push_address=args.worker_push,
        db_address=args.db,
        log_level=logging.WARNING,
    )
    _ready()
    master.start()


def run_worker(args: argparse.Namespace) -> None:
    try:
        from pylm.servers import Worker
    except ImportError as error:
        _unavailable("pylm.servers.Worker", error)

    class EchoWorker(Worker):
        def echo(self, payload: bytes) -> bytes:
            return payload

    worker = EchoWorker(args.name, db_address=args.db, log_level=logging.WARNING)
    _ready()
    worker.start()


def run_pipeline(args: argparse.Namespace) -> None:
    try:
        from pylm.servers import Pipeline
    except ImportError as error:
        _unavailable("pylm.servers.Pipeline", error)

    class EchoPipeline(Pipeline):
        def echo(self, payload: bytes) -> bytes:
            return payload

    step = EchoPipeline(
        args.name,
        db_address=args.db,
        sub_address=args.sub,
        pub_address=args.pub,
        previous=args.previous,
        to_client=args.to_client,
        log_level=logging.WARNING,
    )
    _ready()
    step.start()


def run_gateway(args: argparse.Namespace) -> None:
    """The HTTP microservice of spec §4, wired part by part with the low-level API."""
    try:
        from pylm.parts.gateways import GatewayDealer, GatewayRouter, HttpGateway
        from pylm.parts.servers import ServerTemplate
        from pylm.parts.services import CacheService, WorkerPullService, WorkerPushService
    except ImportError as error:
        _unavailable("pylm.parts gateway parts", error)

    inproc = "inproc://gateway_router"
    server = ServerTemplate(logging_level=logging.WARNING)
    server.register_inbound(GatewayRouter, "gateway_router", inproc, route="WorkerPush")
    server.register_outbound(GatewayDealer, "gateway_dealer", listen_address=inproc)
    server.register_bypass(
        HttpGateway,
        name="HttpGateway",
        listen_address=inproc,
        hostname="127.0.0.1",
        port=args.http_port,
    )
    server.register_inbound(
        WorkerPullService, "WorkerPull", args.worker_pull, route="gateway_dealer"
    )
    server.register_outbound(WorkerPushService, "WorkerPush", args.worker_push)
    server.register_bypass(CacheService, "Cache", args.db)
    server.preset_cache(
        name=args.name,
        db_address=args.db,
        worker_pull_address=args.worker_pull,
        worker_push_address=args.worker_push,
    )
    _ready()
    server.start()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    roles = parser.add_subparsers(dest="role", required=True)

    server = roles.add_parser("server")
    server.add_argument("--name", required=True)
    server.add_argument("--db", required=True)
    server.add_argument("--pull", required=True)
    server.add_argument("--pub", required=True)
    server.add_argument("--pipelined", action="store_true")
    server.set_defaults(run=run_server)

    master = roles.add_parser("master")
    for flag in ("--name", "--db", "--pull", "--pub", "--worker-pull", "--worker-push"):
        master.add_argument(flag, required=True)
    master.set_defaults(run=run_master)

    worker = roles.add_parser("worker")
    worker.add_argument("--name", default="")
    worker.add_argument("--db", required=True)
    worker.set_defaults(run=run_worker)

    pipeline = roles.add_parser("pipeline")
    for flag in ("--name", "--db", "--sub", "--pub", "--previous"):
        pipeline.add_argument(flag, required=True)
    pipeline.add_argument("--to-client", action=argparse.BooleanOptionalAction, default=True)
    pipeline.set_defaults(run=run_pipeline)

    gateway = roles.add_parser("gateway")
    for flag in ("--name", "--db", "--worker-pull", "--worker-push"):
        gateway.add_argument(flag, required=True)
    gateway.add_argument("--http-port", type=int, required=True)
    gateway.set_defaults(run=run_gateway)

    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.run(args)


if __name__ == "__main__":
    main()
