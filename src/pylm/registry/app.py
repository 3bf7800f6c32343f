"""The registry's ASGI application, composed by :func:`create_app`.

Layers, outermost first: Starlette's error middleware (a generic 500, logged server-side,
never a trace), the access middleware (counts requests per route for ``/metrics`` and logs
them without query strings, so no key reaches the log), the body limit (413), then routes:
``/cluster`` and ``/logs`` (legacy, :mod:`.legacy`), ``/api/v1`` (:mod:`.api`), ``/metrics``,
and the web interface (:mod:`.web`: pages, ``/static``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pylm.registry import api, legacy, web
from pylm.registry.errors import BodyTooLarge, HttpError
from pylm.registry.metrics import Metrics
from pylm.registry.store import Store

__all__ = ["AppSettings", "create_app"]

log = logging.getLogger("pylm.registry")

DEFAULT_MAX_BODY = 8 * 1024 * 1024
DEFAULT_HEARTBEAT_INTERVAL = 5.0
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]


@dataclass(frozen=True)
class AppSettings:
    max_body: int = DEFAULT_MAX_BODY
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    lost_after: float | None = None
    legacy_log_read: bool = False  # GET /logs with a generated cluster key alone (0.4 clients)
    follow_poll: float = 0.5

    @property
    def lost_seconds(self) -> float:
        return self.lost_after if self.lost_after is not None else 3 * self.heartbeat_interval


class BodyLimit:
    """413 when Content-Length says too much, or when the streamed body grows past it."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await _error(scope, 413, BodyTooLarge(self.limit).reason)(scope, receive, send)
                    return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)


class AccessLog:
    """Counts and logs each request by route template (never the raw path or query)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: list[Route]):
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        started = False

        async def watching_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        except Exception as exc:  # the answer carries no detail; the log does
            status = 500
            log.error("internal error on %s %s", scope["method"], self._route(scope),
                      exc_info=exc)
            if not started:
                await _error(scope, 500, "internal error")(scope, receive, send)
        finally:
            route = self._route(scope)
            self.metrics.count_request(scope["method"], route, status)
            log.info("%s %s %d %.1fms", scope["method"], route, status,
                     (time.perf_counter() - start) * 1000)


def _error(scope: Scope, status: int, reason: str) -> Response:
    if scope.get("path", "").startswith("/api/"):
        return JSONResponse({"error": reason}, status_code=status)
    return PlainTextResponse(reason, status_code=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HttpError):
        return _error(request.scope, exc.status, exc.reason)
    if isinstance(exc, HTTPException):
        return _error(request.scope, exc.status_code, exc.detail or "error")
    return await _server_error(request, exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path.split("/")[1],
              exc_info=exc)
    return _error(request.scope, 500, "internal error")


def create_app(store: Store | str, settings: AppSettings | None = None,
               metrics: Metrics | None = None) -> Starlette:
    """The registry as an ASGI app over ``store`` (a :class:`Store` or a database URL)."""
    settings = settings or AppSettings()
    metrics = metrics or Metrics()
    owned = isinstance(store, str)
    the_store = Store(store) if isinstance(store, str) else store

    async def metrics_endpoint(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        counts = await run_in_threadpool(the_store.counts)
        return PlainTextResponse(metrics.render(counts),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    routes = [
        *legacy.routes(),
        *api.routes(),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *web.routes(),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                the_store.close()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(AccessLog, metrics=metrics, routes=routes),
                    Middleware(BodyLimit, limit=settings.max_body)],
        exception_handlers={HttpError: _http_error, HTTPException: _http_error,
                            Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.store = the_store
    app.state.settings = settings
    app.state.metrics = metrics
    web.install(app, the_store)
    return app
