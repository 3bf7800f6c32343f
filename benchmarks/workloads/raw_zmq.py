"""Raw pyzmq baselines, no pylm at all: the floor under every PALM figure.

Roles:
- ``rep ADDRESS``: a REP socket echoing every request (runs until killed);
- ``req ADDRESS``: N sequential 100 B round trips; prints ``RESULT`` with p50/p99;
- ``relay PULL_ADDRESS PUSH_ADDRESS``: a Python loop moving messages from a bound
  PULL socket to a bound PUSH socket (runs until killed);
- ``stream PULL_ADDRESS PUSH_ADDRESS``: pushes N payloads into the relay from a
  thread and receives them back; prints ``RESULT`` with messages/s.
Every receive in the measuring roles has a timeout.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import zmq

RECEIVE_TIMEOUT_MS = 10_000


def serve_rep(address: str) -> None:
    context = zmq.Context.instance()
    socket = context.socket(zmq.REP)
    socket.bind(address)
    print("READY", flush=True)
    while True:
        socket.send(socket.recv())


def measure_req(address: str, count: int, size: int) -> dict:
    context = zmq.Context.instance()
    socket = context.socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVTIMEO, RECEIVE_TIMEOUT_MS)
    socket.connect(address)
    payload = b"r" * size
    for _ in range(100):  # warm-up: connection established, caches hot
        socket.send(payload)
        socket.recv()
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        socket.send(payload)
        socket.recv()
        latencies.append(time.perf_counter() - started)
    socket.close()
    latencies.sort()
    return {
        "sent": count,
        "ok": count,
        "p50_us": latencies[len(latencies) // 2] * 1e6,
        "p99_us": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e6,
    }


def serve_relay(pull_address: str, push_address: str) -> None:
    context = zmq.Context.instance()
    inbound = context.socket(zmq.PULL)
    inbound.bind(pull_address)
    outbound = context.socket(zmq.PUSH)
    outbound.bind(push_address)
    print("READY", flush=True)
    while True:
        outbound.send(inbound.recv())


def measure_stream(pull_address: str, push_address: str, count: int, size: int) -> dict:
    """Producer thread -> relay's PULL; relay's PUSH -> this thread."""
    context = zmq.Context.instance()
    receiver = context.socket(zmq.PULL)
    receiver.setsockopt(zmq.LINGER, 0)
    receiver.setsockopt(zmq.RCVTIMEO, RECEIVE_TIMEOUT_MS)
    receiver.connect(push_address)
    payload = b"s" * size

    def produce(total: int) -> None:
        sender = context.socket(zmq.PUSH)
        sender.setsockopt(zmq.LINGER, 0)
        sender.connect(pull_address)
        for _ in range(total):
            sender.send(payload)
        sender.close(linger=RECEIVE_TIMEOUT_MS)

    def run(total: int) -> tuple[int, float]:
        producer = threading.Thread(target=produce, args=(total,), daemon=True)
        started = time.perf_counter()
        producer.start()
        received = 0
        try:
            for _ in range(total):
                receiver.recv()
                received += 1
        except zmq.Again:
            pass
        elapsed = time.perf_counter() - started
        producer.join(RECEIVE_TIMEOUT_MS / 1000)
        return received, elapsed

    run(min(1000, count))  # warm-up
    received, elapsed = run(count)
    receiver.close()
    return {"sent": count, "ok": received, "lost": count - received,
            "elapsed_s": elapsed, "rate": received / elapsed}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["rep", "req", "relay", "stream"])
    parser.add_argument("addresses", nargs="+")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=100)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.role == "rep":
        serve_rep(args.addresses[0])
    elif args.role == "relay":
        serve_relay(args.addresses[0], args.addresses[1])
    else:
        if args.role == "req":
            result = measure_req(args.addresses[0], args.count, args.size)
        else:
            result = measure_stream(args.addresses[0], args.addresses[1], args.count, args.size)
        print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
