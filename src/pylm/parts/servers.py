"""``ServerTemplate``: build a component from a router and parts (spec §4)."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping

from pylm.cache import Cache
from pylm.errors import ConfigurationError
from pylm.log import component_logger
from pylm.parts.core import Bypass, Inbound, Outbound, Part, Router

__all__ = ["ServerTemplate"]


class ServerTemplate:
    """A component assembled from parts.

    Register parts, optionally preset cache values, then :meth:`start`. Every part runs in
    the calling thread, in one poll loop (see :mod:`pylm.parts.core`). ``start`` returns
    after SIGTERM, SIGINT or :meth:`stop`, with every socket closed.
    """

    def __init__(
        self,
        logging_level: int = logging.INFO,
        router_messages: int = sys.maxsize,
        name: str = "",
    ) -> None:
        self.name = name
        self.logging_level = logging_level
        self.cache: MutableMapping[str, bytes] = Cache()
        self.inbound_components: dict[str, Inbound] = {}
        self.outbound_components: dict[str, Outbound] = {}
        self.bypass_components: dict[str, Bypass] = {}
        self._logger: logging.Logger | None = None
        self.router: Router | None = None

    @property
    def logger(self) -> logging.Logger:
        if self._logger is None:
            self._logger = component_logger(self.name or "server", self.logging_level)
        return self._logger

    def _make(
        self, kind: type, part: type[Part], name: str, listen_address: str, **kwargs: object
    ) -> Part:
        if not (isinstance(part, type) and issubclass(part, kind)):
            raise ConfigurationError(f"{part!r} is not a {kind.__name__} part")
        if not name:
            raise ConfigurationError(f"a {part.__name__} part needs a name")
        if name in self._all_parts():
            raise ConfigurationError(f"two parts are named {name!r}")
        kwargs.setdefault("cache", self.cache)
        kwargs.setdefault("logger", self.logger)
        return part(name, listen_address, **kwargs)

    def _all_parts(self) -> dict[str, Part]:
        return {**self.inbound_components, **self.outbound_components, **self.bypass_components}

    def register_inbound(
        self,
        part: type[Inbound],
        name: str = "",
        listen_address: str = "",
        route: str = "",
        block: bool = False,
        log: str = "",
        **kwargs: object,
    ) -> None:
        """Add an inbound part whose messages go to the outbound part ``route``."""
        if not route:
            raise ConfigurationError(f"inbound part {name!r} needs a route")
        instance = self._make(
            Inbound, part, name, listen_address, route=route, block=block, log=log, **kwargs
        )
        self.inbound_components[name] = instance  # type: ignore[assignment]

    def register_outbound(
        self,
        part: type[Outbound],
        name: str = "",
        listen_address: str = "",
        route: str = "",
        log: str = "",
        **kwargs: object,
    ) -> None:
        """Add an outbound part; answers it receives (if any) go on to ``route``."""
        instance = self._make(Outbound, part, name, listen_address, route=route, log=log, **kwargs)
        self.outbound_components[name] = instance  # type: ignore[assignment]

    def register_bypass(
        self, part: type[Bypass], name: str = "", listen_address: str = "", **kwargs: object
    ) -> None:
        """Add a part that serves its socket without the router (e.g. the cache service)."""
        instance = self._make(Bypass, part, name, listen_address, **kwargs)
        self.bypass_components[name] = instance  # type: ignore[assignment]

    def preset_cache(self, **values: str | bytes) -> None:
        """Store values in the cache before start (``str`` values are stored UTF-8)."""
        for key, value in values.items():
            self.cache[key] = value.encode() if isinstance(value, str) else value

    def build_router(self) -> Router:
        router = Router(logger=self.logger)
        for part in self._all_parts().values():
            part.cache = self.cache
            router.add(part)
        router.check_routes()
        return router

    def start(self) -> None:
        """Run every part until stopped (SIGTERM, SIGINT, :meth:`stop`, or a message limit)."""
        self.router = self.build_router()
        self.logger.info("Starting the router")
        for kind, parts in (
            ("inbound", self.inbound_components),
            ("outbound", self.outbound_components),
            ("bypass", self.bypass_components),
        ):
            for name in parts:
                self.logger.info("Starting %s part %s", kind, name)
        self.router.run()
        self.logger.info("Stopped")

    def stop(self) -> None:
        """Ask a running component to stop (safe from a signal handler or another thread)."""
        if self.router is not None:
            self.router.stop()
