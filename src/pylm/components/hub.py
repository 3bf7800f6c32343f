"""``Hub``: a Master fed by an upstream server's stream instead of by clients (spec §3)."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

from pylm.components.master import MasterTemplate
from pylm.parts.connections import SubConnection

__all__ = ["Hub"]


class Hub(MasterTemplate):
    """Sub connection -> WorkerPush; WorkerPull -> Pub; plus a Cache service.

    Subscribes to the topic ``previous`` on the publisher at ``sub_address`` and spreads
    the stream over its own workers, which connect to ``db_address`` as a master's do.
    ``scatter``, ``gather``, ``handle_stream`` and ``change_payload`` are the hooks of a
    :class:`~pylm.servers.Master`.
    """

    def __init__(
        self,
        name: str,
        sub_address: str,
        pub_address: str,
        worker_pull_address: str,
        worker_push_address: str,
        db_address: str,
        previous: str,
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
        self.previous = previous
        self.register_inbound(
            SubConnection, "Sub", sub_address, route="WorkerPush", previous=previous, server=name
        )
        self.wire_workers(
            "Sub", pub_address, worker_pull_address, worker_push_address, db_address,
            heartbeat=heartbeat, liveness=liveness, max_deaths=max_deaths,
        )
        self.preset_cache(sub_address=sub_address)
