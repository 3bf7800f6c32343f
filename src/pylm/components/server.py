"""``Server``: one process that answers requests itself (spec §3)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from pylm.components.execution import execute, user_functions
from pylm.message import PalmMessage
from pylm.parts.core import Outbound, default_hook
from pylm.parts.servers import ServerTemplate
from pylm.parts.services import CacheService, PubService, PullService

__all__ = ["Server", "Execution"]


class Execution(Outbound):
    """An internal outbound part that runs the server's function and passes the result on."""

    def __init__(self, name: str, listen_address: str, *, run: Callable[..., object], **kw: object):
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.run = run

    def send(self, message: PalmMessage, raw: bytes | None = None) -> None:
        for result, _failed in self.run(message):  # type: ignore[attr-defined]
            if result is not None:
                self.pass_on(result)
        self.count()


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
        self.register_outbound(
            Execution, "Execution", "inproc://execution", route="Pub",
            run=self._run, messages=messages,
        )
        self.register_outbound(PubService, "Pub", pub_address, pipelined=pipelined, server=name)
        self.register_bypass(CacheService, "Cache", db_address)
        self.preset_cache(
            name=name, db_address=db_address, pull_address=pull_address, pub_address=pub_address
        )
        self.outbound_components["Pub"].handle_stream = self.handle_stream  # type: ignore[attr-defined]
        self._functions = user_functions(self, Server)

    def _run(self, message: PalmMessage):  # noqa: ANN202 - a generator of Outcome
        return execute(self._functions, self.name, message, self.logger)

    @default_hook
    def handle_stream(self, message: PalmMessage) -> tuple[str, PalmMessage]:
        """Choose the topic of an outgoing message: its client, or down the pipeline."""
        if self.pipelined:
            message.stage += 1
            return self.name, message
        return message.client, message

    def echo(self, payload: bytes) -> bytes:
        """Return the payload unchanged."""
        return payload
