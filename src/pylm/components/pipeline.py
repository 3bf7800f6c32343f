"""``Pipeline``: a serial step fed by another server's stream (spec §3).

A pipeline subscribes to the topic ``previous`` on the publisher of the step before it
(``sub_address``), runs the method its messages name at their current stage, and publishes
the result: back to the client (``to_client=True``, the client reads this pipeline's
``pub_address``) or down the line under its own name with the stage moved on.

A method that returns ``None`` drops the message. A method that raises is logged with its
traceback and the message goes on as an error reply, so the client is told which message
failed while the rest of the stream flows.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import zmq

from pylm.components.execution import StepExecution, user_functions
from pylm.errors import ConfigurationError
from pylm.message import PalmMessage
from pylm.parts.connections import SubConnection
from pylm.parts.core import default_hook
from pylm.parts.publisher import default_route
from pylm.parts.servers import ServerTemplate
from pylm.parts.services import CacheService, PubService

__all__ = ["Pipeline", "StreamStep", "StepExecution"]


class StepSubscription(SubConnection):
    """A SubConnection that leaves the check of the step's server to :class:`StepExecution`
    (so that it is done once per message)."""

    def open(self, context: zmq.Context) -> None:
        super().open(context)
        self.server = ""


class StreamStep(ServerTemplate):
    """What pipelines and sinks share: subscriptions -> the user's method -> Pub, plus a Cache.

    ``streams`` pairs each upstream publisher address with the topic to subscribe to there.
    """

    #: The class whose own methods are never callable by a message.
    framework: type = ServerTemplate

    def _build(
        self,
        name: str,
        db_address: str,
        streams: Sequence[tuple[str, str]],
        pub_address: str,
        to_client: bool,
        messages: int,
    ) -> None:
        if not streams:
            raise ConfigurationError(f"{type(self).__name__} {name!r} needs an upstream server")
        self.db_address = db_address
        self.pub_address = pub_address
        self.pipelined = not to_client
        self.messages = messages
        for index, (address, previous) in enumerate(streams):
            if not isinstance(previous, str) or not isinstance(address, str):
                raise ConfigurationError(
                    f"{type(self).__name__} {name!r}: upstream #{index} must be an address "
                    f"and a topic (str), got {address!r} and {previous!r}"
                )
            part = "Sub" if len(streams) == 1 else f"Sub{index}"
            # The step checks the server name itself (StepExecution), once per message.
            self.register_inbound(
                StepSubscription, part, address, route="Execution", previous=previous
            )
        self._functions = user_functions(self, self.framework)
        self.register_outbound(
            StepExecution, "Execution", "inproc://execution", route="Pub",
            functions=self._functions, server=name, messages=messages,
        )
        self.register_outbound(
            PubService, "Pub", pub_address, pipelined=self.pipelined, server=name
        )
        self.register_bypass(CacheService, "Cache", db_address, server=name)
        self.preset_cache(name=name, db_address=db_address, pub_address=pub_address)
        self.outbound_components["Pub"].handle_stream = self.handle_stream  # type: ignore[attr-defined]

    @default_hook
    def handle_stream(self, message: PalmMessage) -> tuple[str, PalmMessage]:
        """Choose the topic of an outgoing message: its client, or down the pipeline."""
        return default_route(message, self.name, self.pipelined)

    def echo(self, payload: bytes) -> bytes:
        """Return the payload unchanged."""
        return payload


class Pipeline(StreamStep):
    """A serial step subscribed to the topic ``previous`` of the server at ``sub_address``.

    User functions are the public methods of a subclass (payload bytes in, bytes out, or
    ``None`` to drop the message). ``messages`` bounds how many it handles (tests).
    """

    def __init__(
        self,
        name: str,
        db_address: str,
        sub_address: str,
        pub_address: str,
        previous: str,
        to_client: bool = True,
        log_level: int = logging.INFO,
        messages: int = sys.maxsize,
    ) -> None:
        super().__init__(logging_level=log_level, name=name)
        self.sub_address = sub_address
        self.previous = previous
        self._build(name, db_address, [(sub_address, previous)], pub_address, to_client, messages)
        self.preset_cache(sub_address=sub_address)


Pipeline.framework = Pipeline
