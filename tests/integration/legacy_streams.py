"""Run under the ORIGINAL pylm 0.14.4 interpreter (scripts/legacy-venv) by test_legacy_streams.

    python legacy_streams.py pipeline NAME DB SUB PUB PREVIOUS   a pylm 0.14 Pipeline
    python legacy_streams.py job NAME DB SUB COUNT FUNCTION...   a pylm 0.14 Client job;
                                                                 prints one JSON line

Every receive of the original client times out (10 s) instead of hanging.
"""

import json
import sys

import zmq

from pylm.parts.core import zmq_context


def main():
    kind = sys.argv[1]
    if kind == "pipeline":
        from pylm.servers import Pipeline

        class Step(Pipeline):
            def tag(self, message):
                return message + b"|legacy"

        name, db, sub, pub, previous = sys.argv[2:7]
        print("READY", flush=True)
        Step(name, db, sub, pub, previous).start()
    else:
        from pylm.clients import Client

        zmq_context.setsockopt(zmq.RCVTIMEO, 10000)
        zmq_context.setsockopt(zmq.LINGER, 0)
        name, db, sub, count = sys.argv[2:6]
        functions = sys.argv[6:]
        client = Client(name, db, sub_address=sub)
        payloads = [b"%d" % i for i in range(int(count))]
        try:
            results = list(client.job(functions, iter(payloads), messages=len(payloads)))
            print(json.dumps({"results": [r.decode() for r in results]}), flush=True)
        except zmq.Again:
            print(json.dumps({"error": "timed out"}), flush=True)


if __name__ == "__main__":
    main()
