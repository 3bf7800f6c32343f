"""Stream components the integration tests run as real processes.

    python stream_components.py source NAME [--router]      a pipelined Server
    python stream_components.py master NAME                 a pipelined Master
    python stream_components.py pipeline NAME SUB PREVIOUS [--middle] [--pub ADDRESS]
    python stream_components.py sink NAME SUB,SUB PREVIOUS,PREVIOUS
    python stream_components.py hub NAME SUB PREVIOUS
    python stream_components.py worker DB

Every bound address is a wildcard (``tcp://127.0.0.1:*``): the component logs
``Cache listening on ADDRESS`` and ``Pub listening on ADDRESS``, which the tests read.
``--middle`` makes a pipeline publish down the line instead of to the client.
"""

import argparse
import os
import sys

from pylm.servers import Hub, Master, Pipeline, Server, Sink, Worker

ANY = "tcp://127.0.0.1:*"


class Source(Server):
    def tag(self, payload: bytes) -> bytes:
        return payload + b"|source"


class RoutingSource(Source):
    """Sends odd messages (by their number in the payload) to 'odd', even ones to 'even'."""

    def handle_stream(self, message):
        number = int(message.payload.split(b"|")[0])
        message.stage += 1
        return ("odd" if number % 2 else "even"), message


class Step(Pipeline):
    def tag(self, payload: bytes) -> bytes:
        return payload + b"|" + self.name.encode() + b":" + str(os.getpid()).encode()

    def upper(self, payload: bytes) -> bytes:
        return payload.upper()

    def drop_odd(self, payload: bytes) -> bytes | None:
        return None if int(payload.split(b"|")[0]) % 2 else payload

    def fail(self, payload: bytes) -> bytes:
        if b"fail" in payload:
            raise ValueError(f"asked to fail on {payload[:20]!r}")
        return payload


class Joiner(Sink):
    def tag(self, payload: bytes) -> bytes:
        return payload + b"|" + self.name.encode()


class HubWorker(Worker):
    def tag(self, payload: bytes) -> bytes:
        return payload + b"|worker:" + str(os.getpid()).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="kind", required=True)
    s = sub.add_parser("source")
    s.add_argument("name")
    s.add_argument("--router", action="store_true")
    m = sub.add_parser("master")
    m.add_argument("name")
    p = sub.add_parser("pipeline")
    p.add_argument("name")
    p.add_argument("sub")
    p.add_argument("previous")
    p.add_argument("--middle", action="store_true")
    p.add_argument("--pub", default=ANY)
    k = sub.add_parser("sink")
    k.add_argument("name")
    k.add_argument("subs")
    k.add_argument("previous")
    h = sub.add_parser("hub")
    h.add_argument("name")
    h.add_argument("sub")
    h.add_argument("previous")
    w = sub.add_parser("worker")
    w.add_argument("db")
    args = parser.parse_args()
    if args.kind == "source":
        cls = RoutingSource if args.router else Source
        cls(args.name, ANY, ANY, ANY, pipelined=True).start()
    elif args.kind == "master":
        Master(args.name, ANY, ANY, ANY, ANY, ANY, pipelined=True).start()
    elif args.kind == "pipeline":
        Step(args.name, ANY, args.sub, args.pub, args.previous, to_client=not args.middle).start()
    elif args.kind == "sink":
        Joiner(args.name, ANY, args.subs.split(","), ANY, args.previous.split(",")).start()
    elif args.kind == "hub":
        Hub(args.name, args.sub, ANY, ANY, ANY, ANY, args.previous).start()
    else:
        HubWorker("", args.db).start()
    sys.exit(0)


if __name__ == "__main__":
    main()
