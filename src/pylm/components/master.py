"""``Master``: spreads a client stream over any number of workers (spec §3, §4)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping

from pylm.message import PalmMessage
from pylm.parts.core import default_hook
from pylm.parts.publisher import default_route
from pylm.parts.servers import ServerTemplate
from pylm.parts.services import (
    CacheService,
    PubService,
    PullService,
    WorkerPullService,
    WorkerPushService,
)

__all__ = ["BaseMaster", "MasterTemplate", "Master"]


class BaseMaster:
    """The hooks of a master; override them in a subclass."""

    name: str
    pipelined: bool

    @staticmethod
    def change_payload(message: PalmMessage, new_payload: bytes) -> PalmMessage:
        """Return ``message`` carrying ``new_payload``."""
        message.payload = new_payload
        return message

    @default_hook
    def scatter(self, message: PalmMessage) -> Iterator[PalmMessage]:
        """Run for each inbound message; yield the messages to send to the workers."""
        yield message

    @default_hook
    def gather(self, message: PalmMessage) -> Iterator[PalmMessage]:
        """Run for each result from a worker; yield the messages to publish."""
        yield message

    @default_hook
    def handle_stream(self, message: PalmMessage) -> tuple[str, PalmMessage]:
        """Choose the topic of an outgoing message: its client, or down the pipeline."""
        return default_route(message, self.name, self.pipelined)


class MasterTemplate(ServerTemplate, BaseMaster):
    """What a Master and a Hub share: the worker side, the publisher, the cache, the hooks."""

    def wire_workers(
        self,
        inbound: str,
        pub_address: str,
        worker_pull_address: str,
        worker_push_address: str,
        db_address: str,
        *,
        heartbeat: float,
        liveness: int,
        max_deaths: int,
    ) -> None:
        """Register WorkerPull -> Pub, WorkerPush, Pub and Cache after the inbound part
        ``inbound`` (already registered, routed to WorkerPush), and plug in the hooks."""
        self.register_inbound(WorkerPullService, "WorkerPull", worker_pull_address, route="Pub")
        self.register_outbound(
            WorkerPushService, "WorkerPush", worker_push_address,
            heartbeat=heartbeat, liveness=liveness, max_deaths=max_deaths,
        )
        self.register_outbound(
            PubService, "Pub", pub_address, log="to_sink", pipelined=self.pipelined,
            server=self.name,
        )
        self.register_bypass(CacheService, "Cache", db_address, server=self.name)
        self.preset_cache(
            name=self.name,
            db_address=db_address,
            pub_address=pub_address,
            worker_pull_address=worker_pull_address,
            worker_push_address=worker_push_address,
        )
        self.inbound_components[inbound].scatter = self.scatter  # type: ignore[method-assign]
        pub = self.outbound_components["Pub"]
        pub.gather = self.gather  # type: ignore[attr-defined]
        pub.handle_stream = self.handle_stream  # type: ignore[attr-defined]


class Master(MasterTemplate):
    """Pull service -> WorkerPush; WorkerPull -> Pub; plus a Cache service.

    Workers connect to ``db_address`` and discover the rest. ``heartbeat`` is the interval
    workers beat at; a worker silent for ``liveness`` beats is given up and what it held is
    redelivered; a message running when ``max_deaths`` workers died is reported as failed.
    """

    def __init__(
        self,
        name: str,
        pull_address: str,
        pub_address: str,
        worker_pull_address: str,
        worker_push_address: str,
        db_address: str,
        pipelined: bool = False,
        cache: MutableMapping[str, bytes] | None = None,
        log_level: int = logging.INFO,
        *,
        heartbeat: float = 1.0,
        liveness: int = 3,
        max_deaths: int = 3,
    ) -> None:
        super().__init__(logging_level=log_level, name=name)
        if cache is not None:
            self.cache = cache
        self.pipelined = pipelined
        self.register_inbound(PullService, "Pull", pull_address, route="WorkerPush")
        self.wire_workers(
            "Pull", pub_address, worker_pull_address, worker_push_address, db_address,
            heartbeat=heartbeat, liveness=liveness, max_deaths=max_deaths,
        )
        self.preset_cache(pull_address=pull_address)
