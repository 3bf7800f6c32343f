"""``Server``: one process that answers requests itself (spec §3)."""

from __future__ import annotations

import logging
import sys

from pylm.components.execution import StepExecution, user_functions
from pylm.message import PalmMessage
from pylm.parts.core import default_hook
from pylm.parts.publisher import default_route
from pylm.parts.servers import ServerTemplate
from pylm.parts.services import CacheService, PubService, PullService

__all__ = ["Server"]


class Server(ServerTemplate):
    """A single process: Pull service -> the user's function -> Pub service, plus a Cache.

    User functions are the public methods of a subclass; each takes the payload bytes and
    returns bytes. ``messages`` bounds how many messages it handles before it stops.
    """

    def __init__(
        self,
        name: str,
        db_address: str,
        pull_address: str,
        pub_address: str,
        pipelined: bool = False,
        log_level: int = logging.INFO,
        messages: int = sys.maxsize,
    ) -> None:
        super().__init__(logging_level=log_level, name=name)
        self.db_address = db_address
        self.pull_address = pull_address
        self.pub_address = pub_address
        self.pipelined = pipelined
        self.messages = messages
        self.register_inbound(PullService, "Pull", pull_address, route="Execution")
        self._functions = user_functions(self, Server)
        self.register_outbound(
            StepExecution, "Execution", "", route="Pub",
            functions=self._functions, server=name, messages=messages,
        )
        self.register_outbound(PubService, "Pub", pub_address, pipelined=pipelined, server=name)
        self.register_bypass(CacheService, "Cache", db_address)
        self.preset_cache(
            name=name, db_address=db_address, pull_address=pull_address, pub_address=pub_address
        )
        self.outbound_components["Pub"].handle_stream = self.handle_stream  # type: ignore[attr-defined]

    @default_hook
    def handle_stream(self, message: PalmMessage) -> tuple[str, PalmMessage]:
        """Choose the topic of an outgoing message: its client, or down the pipeline."""
        return default_route(message, self.name, self.pipelined)

    def echo(self, payload: bytes) -> bytes:
        """Return the payload unchanged."""
        return payload
