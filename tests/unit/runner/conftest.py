"""A small in-test HTTP double of the registry's runner API (docs/runner-protocol.md).

A real HTTP server on 127.0.0.1 (port chosen by the OS) in a thread. It records every
request, stores log lines once per ``(source, instance, seq)`` like the registry, and can
be told to answer 503 (``down``), 404 (``gone``) or a fixed status. For unit tests of the
shipper and heartbeat only; integration tests use the real registry.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class DoubleState:
    instances: list[dict[str, object]] = field(default_factory=list)
    down: bool = False
    gone: bool = False
    status_override: int | None = None
    lose_log_answers: int = 0  # store the next N log batches, then answer 500
    requests: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    lines: list[dict[str, object]] = field(default_factory=list)
    seen: set[tuple[str, str, int]] = field(default_factory=set)
    events: list[dict[str, object]] = field(default_factory=list)
    heartbeats: list[dict[str, object]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)


class RegistryDouble:
    """``with RegistryDouble() as double: double.url ...``"""

    def __init__(self) -> None:
        self.state = DoubleState()
        self.lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, answer = double._answer(self.path, body, self.headers)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RegistryDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _answer(self, path: str, body: dict[str, object], headers: object) -> tuple[int, dict]:
        with self.lock:
            state = self.state
            state.requests.append((path, body))
            state.tokens.append(str(headers.get("Authorization")))  # type: ignore[attr-defined]
            if state.down:
                return 503, {"error": "down"}
            if state.gone:
                return 404, {"error": "no such cluster"}
            if state.status_override is not None:
                return state.status_override, {"error": "refused"}
            if path.endswith("/join"):
                return 200, {"node": body["name"], "heartbeat_interval": 0.2,
                             "instances": state.instances}
            if path.endswith("/heartbeat"):
                state.heartbeats.append(body)
                return 200, {"ok": True}
            if path.endswith("/events"):
                state.events.extend(body["events"])  # type: ignore[arg-type]
                return 200, {"accepted": len(body["events"])}  # type: ignore[arg-type]
            if path.endswith("/logs"):
                accepted = duplicates = 0
                for line in body["lines"]:  # type: ignore[union-attr]
                    key = (body["source"], line["instance"], line["seq"])
                    if key in state.seen:
                        duplicates += 1
                        continue
                    state.seen.add(key)
                    state.lines.append(line)
                    accepted += 1
                if state.lose_log_answers > 0:
                    state.lose_log_answers -= 1
                    return 500, {"error": "answer lost"}
                return 200, {"accepted": accepted, "duplicates": duplicates}
            return 404, {"error": "unknown path"}


@pytest.fixture
def registry_double() -> Iterator[RegistryDouble]:
    with RegistryDouble() as double:
        yield double
