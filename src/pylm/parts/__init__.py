"""The low-level API: a router and parts from which components are built (spec §4)."""

from pylm.parts.connections import (
    HttpConnection,
    PullConnection,
    PushConnection,
    RepConnection,
    SubConnection,
)
from pylm.parts.core import Bypass, Inbound, Outbound, Part, Router
from pylm.parts.gateways import GatewayDealer, GatewayRouter, HttpGateway
from pylm.parts.servers import ServerTemplate
from pylm.parts.services import (
    CacheService,
    PubService,
    PullService,
    PushService,
    RepService,
    WorkerPullService,
    WorkerPushService,
)

__all__ = [
    "Router", "Part", "Inbound", "Outbound", "Bypass", "ServerTemplate",
    "PullService", "PushService", "PubService", "RepService",
    "WorkerPullService", "WorkerPushService", "CacheService",
    "SubConnection", "PullConnection", "PushConnection", "RepConnection", "HttpConnection",
    "GatewayRouter", "GatewayDealer", "HttpGateway",
]
