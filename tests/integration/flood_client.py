"""A client that floods a master: COUNT payloads of SIZE bytes, reporting its progress.

    python flood_client.py NAME DB COUNT SIZE

Prints ``progress SENT RECEIVED`` lines (SENT = payloads the generator has handed out).
"""

import sys
import time

from pylm.clients import Client


def main() -> None:
    name, db, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    state = {"sent": 0}
    payload = b"x" * size

    def payloads():
        for _ in range(count):
            state["sent"] += 1
            yield payload

    received = 0
    last = 0.0
    with Client(name, db, timeout=10) as client:
        for _ in client.job(f"{name}.slow", payloads(), messages=count, timeout=60):
            received += 1
            now = time.monotonic()
            if now - last > 0.25:
                print(f"progress {state['sent']} {received}", flush=True)
                last = now


if __name__ == "__main__":
    main()
