"""HTTP workers: a ``RequestHandler`` subclass whose methods are worker functions (spec §5).

The protocol, as :class:`~pylm.parts.connections.HttpConnection` speaks it: each request is
a ``POST`` whose body is one serialized PalmMessage; the handler runs the method named by the
message's current step with the payload and answers ``200`` with the message carrying the
result. Every other answer has a short ``text/plain`` body, never a traceback:

- ``204``: the method returned ``None`` (the message is dropped);
- ``400``: the body is not a PalmMessage, or its ``function`` names no step;
- ``404``: the method does not exist; ``405``: not a POST; ``413``: the body is too large;
- ``500``: the method raised (the traceback goes to the log) or returned something else
  than bytes.

``WSGIApplication(handler)`` runs under any WSGI server (gunicorn, uvicorn's WSGI adapter,
``wsgiref``); :class:`DebugServer` is the standard library's, for development and tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import NamedTuple
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pylm.components.execution import user_functions
from pylm.errors import MessageError, RoutingError
from pylm.log import component_logger
from pylm.message import PalmMessage, current_step, decode

__all__ = ["Request", "RequestHandler", "WSGIApplication", "DebugServer", "MAX_BODY"]

#: Largest request body accepted by default (bytes).
MAX_BODY = 32 * 1024 * 1024

StartResponse = Callable[..., object]


class Request(NamedTuple):
    method: str
    data: bytes


class HttpAnswer(Exception):
    """An answer other than 200, with its status line and a short reason."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class RequestHandler:
    """One request to an HTTP worker. Subclass it; public methods are the worker functions.

    Each takes the payload (bytes) and returns bytes, or ``None`` to drop the message.
    ``self.message`` is the PalmMessage being handled, ``self.environ`` the WSGI environ.
    """

    max_body: int = MAX_BODY
    logger: logging.Logger = component_logger("pylm.remote")

    def __init__(self, environ: dict[str, object] | None = None) -> None:
        self.environ = environ or {}
        self.message: PalmMessage | None = None
        self.request = Request(str(self.environ.get("REQUEST_METHOD", "")), b"")

    def _read_body(self) -> bytes:
        raw = str(self.environ.get("CONTENT_LENGTH") or "0")
        try:
            length = int(raw)
        except ValueError:
            raise HttpAnswer("400 Bad Request", f"bad Content-Length {raw[:40]!r}") from None
        if length < 0:
            raise HttpAnswer("400 Bad Request", f"bad Content-Length {raw[:40]!r}")
        if length > self.max_body:
            raise HttpAnswer(
                "413 Content Too Large", f"body of {length} bytes is over {self.max_body}"
            )
        stream = self.environ.get("wsgi.input")
        data = stream.read(length) if stream is not None and length else b""  # type: ignore[attr-defined]
        return bytes(data)

    def handle(self) -> tuple[str, bytes]:
        """Answer the request: ``(status line, body)``."""
        try:
            return "200 OK", self._answer()
        except HttpAnswer as answer:
            return answer.status, answer.reason.encode()

    def _answer(self) -> bytes:
        if self.request.method != "POST":
            raise HttpAnswer("405 Method Not Allowed", "only POST is allowed")
        self.request = Request(self.request.method, self._read_body())
        try:
            message = decode(self.request.data)
            _server, method = current_step(message)
        except RoutingError as exc:
            raise HttpAnswer("400 Bad Request", str(exc)) from None
        except MessageError:
            raise HttpAnswer("400 Bad Request", "the body is not a PalmMessage") from None
        self.message = message
        function = _functions(type(self)).get(method)
        if function is None:
            raise HttpAnswer("404 Not Found", f"{method} is not a function of this worker")
        try:
            result = getattr(self, function)(message.payload)
        except Exception as exc:
            self.logger.exception("User function %s gave an error", method)
            reason = f"{method} raised {type(exc).__name__}: {exc}".splitlines()[0][:300]
            raise HttpAnswer("500 Internal Server Error", reason) from None
        if result is None:
            raise HttpAnswer("204 No Content", "")
        if not isinstance(result, bytes | bytearray | memoryview):
            self.logger.error("%s returned %s, not bytes", method, type(result).__name__)
            raise HttpAnswer(
                "500 Internal Server Error", f"{method} returned {type(result).__name__}, not bytes"
            )
        message.payload = bytes(result)
        return message.SerializeToString()


_FUNCTIONS: dict[type, dict[str, str]] = {}


def _functions(handler: type[RequestHandler]) -> dict[str, str]:
    """The names of the worker functions of a handler class (computed once per class)."""
    names = _FUNCTIONS.get(handler)
    if names is None:
        probe = handler.__new__(handler)
        names = {name: name for name in user_functions(probe, RequestHandler)}
        names.pop("echo", None)
        _FUNCTIONS[handler] = names
    return names


class WSGIApplication:
    """The WSGI application serving the worker functions of ``handler`` (a class)."""

    def __init__(self, handler: type[RequestHandler]) -> None:
        if not (isinstance(handler, type) and issubclass(handler, RequestHandler)):
            raise TypeError(f"{handler!r} is not a RequestHandler subclass")
        self.handler = handler

    def __call__(
        self, environ: dict[str, object], start_response: StartResponse
    ) -> Iterable[bytes]:
        status, body = self.handler(environ).handle()
        content_type = "application/octet-stream" if status.startswith("200") else "text/plain"
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if status.startswith("405"):
            headers.append(("Allow", "POST"))
        start_response(status, headers)
        return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        RequestHandler.logger.debug("%s - %s", self.address_string(), format % args)


class DebugServer:
    """A small single-threaded HTTP server for an HTTP worker (``wsgiref``).

    ``port`` 0 takes a free port; :attr:`port` is the one bound.
    """

    def __init__(self, host: str, port: int, handler: type[RequestHandler]) -> None:
        self.application = WSGIApplication(handler)
        self.httpd: WSGIServer = make_server(
            host, port, self.application, handler_class=_QuietHandler
        )
        self.host = host
        self.port = self.httpd.server_address[1]
        RequestHandler.logger.info("DebugServer listening on http://%s:%d", host, self.port)

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()

    def handle_request(self) -> None:
        self.httpd.handle_request()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` (from another thread)."""
        self.httpd.shutdown()
