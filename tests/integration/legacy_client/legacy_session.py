"""Drive a PALM server with the UNMODIFIED pylm 0.14.4 ``Client`` (legacy interpreter only).

Usage: ``legacy_session.py SERVER_NAME DB_ADDRESS [SUB_ADDRESS] < OPS_JSON``. ``OPS_JSON``
(on stdin) is a list of operations run in order on one client (bytes travel as hex;
``function`` may be a list of steps):

- ``{"op": "eval", "function": "srv.f", "payload": HEX}`` -> ``{"result": HEX}``
- ``{"op": "job", "function": "srv.f", "payloads": [HEX...], "messages": N}``
  -> ``{"results": [HEX...]}``
- ``{"op": "set", "value": HEX, "key": KEY-or-null}`` -> ``{"result": KEY}``
- ``{"op": "get", "key": KEY}`` -> ``{"result": HEX}``
- ``{"op": "delete", "key": KEY}`` -> ``{"result": KEY}``
- ``{"op": "new_client"}``: replace the client by a freshly created one.

A wait that times out is recorded as ``{"error": "timeout", ...}`` and ends the
session (a lost reply costs one timeout, not one per remaining operation). The
original client has no timeouts of its own, so every socket it creates gets a
default receive timeout from the ZeroMQ context it uses (``RECEIVE_TIMEOUT_MS``).
Prints one JSON object: where ``pylm`` was imported from, its version, and the answers.
"""

import json
import os
import sys
from importlib.metadata import version

import zmq

import pylm
from pylm.clients import Client

RECEIVE_TIMEOUT_MS = 5000


def run(op, client, make_client):
    kind = op["op"]
    if kind == "eval":
        return {"result": client.eval(op["function"], bytes.fromhex(op["payload"])).hex()}
    if kind == "job":
        payloads = (bytes.fromhex(item) for item in op["payloads"])
        results = []
        try:
            for result in client.job(op["function"], payloads, messages=op["messages"]):
                results.append(result.hex())
        except zmq.Again:
            return {"error": "timeout", "results": results}
        return {"results": results}
    if kind == "set":
        return {"result": client.set(bytes.fromhex(op["value"]), op.get("key"))}
    if kind == "get":
        return {"result": client.get(op["key"]).hex()}
    if kind == "delete":
        return {"result": client.delete(op["key"])}
    if kind == "new_client":
        return {"client": make_client().uuid}
    raise ValueError(f"unknown op {kind!r}")


def main():
    server_name, db_address = sys.argv[1], sys.argv[2]
    sub_address = sys.argv[3] if len(sys.argv) > 3 else None  # a pipeline's last step
    ops = json.load(sys.stdin)
    context = zmq.Context.instance()  # the very context the original client uses
    context.setsockopt(zmq.RCVTIMEO, RECEIVE_TIMEOUT_MS)
    context.setsockopt(zmq.LINGER, 0)

    state = {}

    def make_client():
        state["client"] = Client(server_name, db_address, sub_address=sub_address,
                                 logging_level=40)
        return state["client"]

    answers = []
    try:
        make_client()
        for op in ops:
            try:
                answers.append(run(op, state["client"], make_client))
            except zmq.Again:
                answers.append({"error": "timeout"})
            if "error" in answers[-1]:
                break
    except Exception as error:
        answers.append({"error": f"{type(error).__name__}: {error}"})
    print(json.dumps({"pylm_file": pylm.__file__, "pylm_version": version("pylm"),
                      "answers": answers}), flush=True)
    # The original client leaves a non-daemon sender thread and unclosed sockets.
    os._exit(0)


if __name__ == "__main__":
    main()
