"""The endpoints of pylm-registry 0.4 (spec §5), answering as the original did.

``GET /cluster?method=M`` with the user's key in a ``Key`` header; ``POST /logs?cluster=K``
with a protobuf ``LogMessages`` body; ``GET /logs?cluster=K&fr=&to=``. Generated cluster
keys double as join keys: ``node_config`` and ``POST /logs`` work without a ``Key`` header
for them (the original runner sends none). Everything else needs the owner's key.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pylm.registry.config import ConfigError, parse_node
from pylm.registry.errors import HttpError
from pylm.registry.logs import LEGACY_TIME_FORMAT, LogQuery
from pylm.registry.planner import PlacementError
from pylm.registry.store import ClusterInfo, Conflict, NotFound, Store, UserInfo, utcnow

__all__ = ["LogMessages", "legacy_status", "routes"]

MAX_KEY_CHARS = 200
TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"
LEGACY_SOURCE = "legacy"
EPOCH = "1970-01-01T00:00:00.000000"
FAR_FUTURE = "2200-01-01T00:00:00.000000"
LEGACY_LOG_LIMIT = 200_000  # lines per GET /logs (oldest first); page on with fr=


def _log_messages_class() -> Any:
    """``message LogMessages { repeated string messages = 1; }`` in a private pool."""
    proto = descriptor_pb2.FileDescriptorProto(name="pylm_registry_legacy.proto",
                                               syntax="proto3")
    message = proto.message_type.add(name="LogMessages")
    message.field.add(name="messages", number=1,
                      type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("LogMessages"))


LogMessages = _log_messages_class()


def legacy_status(cluster: ClusterInfo) -> list[Any] | str:
    """The original's status tuple: socket mapping, configured resources, ports, ready."""
    placement = cluster.placement
    if not placement.instances:
        return ""
    config = cluster.config
    resources = {}
    for inst in placement.instances:
        service = config.service(inst.service)
        name = f"{inst.service} {inst.replica + 1}" if service.replicas_given else inst.service
        resources[name] = {"commands": list(inst.parts), "node": inst.ip, "ready": True}
    return [dict(placement.sockets), resources, dict(placement.highest_ports),
            placement.ready(config)]


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=TEXT)


def _json(data: Any) -> Response:
    return Response(json.dumps(data), media_type=JSON)


def _arg(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None:
        raise HttpError(400, f"Missing argument {name}")
    return value.strip()


class _Cluster:
    """Handlers of ``GET /cluster``, one per legacy method."""

    def __init__(self, request: Request):
        self.request = request
        self.store: Store = request.app.state.store

    async def user(self) -> UserInfo:
        key = self.request.headers.get("key")
        if key is None:
            raise HttpError(401, "User key not present")
        user = await run_in_threadpool(self.store.user_by_key, key)
        if user is None:
            raise HttpError(403, "User key not valid")
        return user

    async def owned(self) -> ClusterInfo:
        user = await self.user()
        cluster = await run_in_threadpool(self.store.get_cluster, _arg(self.request, "cluster"))
        if cluster is None or cluster.owner_id != user.id:
            raise HttpError(403, "User does not own the cluster")
        return cluster

    async def new_cluster(self) -> Response:
        user = await self.user()
        description = _arg(self.request, "description")
        key = self.request.query_params.get("key")
        if key is not None:
            key = key.strip()
            if not key or len(key) > MAX_KEY_CHARS:
                raise HttpError(400, f"key: 1 to {MAX_KEY_CHARS} characters")
        alias = self.request.query_params.get("alias", "").strip()[:MAX_KEY_CHARS]
        try:
            cluster = await run_in_threadpool(self.store.create_cluster, user.id, description,
                                              key=key, alias=alias)
        except ConfigError as exc:
            raise HttpError(400, str(exc)) from None
        except Conflict as exc:
            raise HttpError(409, str(exc)) from None
        return _text(cluster.key)

    async def clusters_list(self) -> Response:
        user = await self.user()
        owned = await run_in_threadpool(self.store.clusters_of, user.id)
        return _json({c.key: {"key": c.key, "when": c.created_at.isoformat(),
                              "description": c.description, "status": legacy_status(c),
                              "alias": c.alias} for c in owned})

    async def node_config(self) -> Response:
        key = _arg(self.request, "cluster")
        if "key" in self.request.headers:
            await self.owned()
        else:
            cluster = await run_in_threadpool(self.store.get_cluster, key)
            if cluster is None:
                raise HttpError(404, "Cluster not found")
            if not cluster.key_generated:
                raise HttpError(401, "User key not present")
            if not cluster.owner_active:
                raise HttpError(403, "User not active")
        try:
            node = parse_node(_arg(self.request, "node"))
            placed = await run_in_threadpool(functools.partial(self.store.join, key, node,
                                                              fresh=True))
        except ConfigError as exc:
            raise HttpError(400, str(exc)) from None
        except PlacementError as exc:
            raise HttpError(409, str(exc)) from None
        except NotFound:
            raise HttpError(404, "Cluster not found") from None
        return _json([p.command for p in placed])

    async def cluster_status(self) -> Response:
        status = legacy_status(await self.owned())
        if status == "":
            return _text("")
        sockets, resources, ports, ready = status
        return _json({"socket mapping": sockets, "configured resources": resources,
                      "highest port used": ports, "ready": ready})

    async def cluster_reset(self) -> Response:
        cluster = await self.owned()
        await run_in_threadpool(self.store.reset_cluster, cluster.id)
        return _text(cluster.key)

    async def cluster_delete(self) -> Response:
        cluster = await self.owned()
        await run_in_threadpool(self.store.delete_cluster, cluster.id)
        return _text(cluster.key)


METHODS = ("new_cluster", "clusters_list", "node_config", "cluster_status", "cluster_reset",
           "cluster_delete")


async def cluster_endpoint(request: Request) -> Response:
    method = request.query_params.get("method")
    if method not in METHODS:
        raise HttpError(400, "Bad method or method not present")
    return await getattr(_Cluster(request), method)()


async def _log_cluster(request: Request, write: bool) -> ClusterInfo:
    """The cluster of a /logs call, if the caller may use it."""
    store: Store = request.app.state.store
    cluster = await run_in_threadpool(store.get_cluster, _arg(request, "cluster"))
    key = request.headers.get("key")
    if key is None:
        join_key_reads = request.app.state.settings.legacy_log_read
        if (write or join_key_reads) and cluster is not None and cluster.key_generated:
            if not cluster.owner_active:
                raise HttpError(403, "User not active")
            return cluster
        raise HttpError(401 if cluster is not None else 404,
                        "User key not present" if cluster is not None else "Cluster not found")
    user = await run_in_threadpool(store.user_by_key, key)
    if user is None:
        raise HttpError(403, "User key not valid")
    if cluster is None or cluster.owner_id != user.id:
        raise HttpError(403, "User does not own the cluster")
    return cluster


def _legacy_time(request: Request, name: str, default: str) -> datetime:
    raw = request.query_params.get(name, default).strip()
    try:
        return datetime.strptime(raw, LEGACY_TIME_FORMAT)
    except ValueError:
        raise HttpError(400, f"{name}: expected a time like {EPOCH}") from None


async def logs_endpoint(request: Request) -> Response:
    store: Store = request.app.state.store
    if request.method == "POST":
        cluster = await _log_cluster(request, write=True)
        body = await request.body()
        buffer = LogMessages()
        try:
            buffer.ParseFromString(body)
        except DecodeError:
            raise HttpError(400, "body is not a LogMessages protobuf") from None
        now = utcnow()
        # Plain tuples in LogRow's field order: a NamedTuple per line costs as much as the SQL.
        rows = [(now, "", "", "", "stdout", LEGACY_SOURCE, None, text)
                for text in buffer.messages]
        accepted = await run_in_threadpool(store.ingest, cluster.id, rows)
        request.app.state.metrics.count_lines(accepted)
        return _text("")
    fr = _legacy_time(request, "fr", EPOCH)
    to = _legacy_time(request, "to", FAR_FUTURE)
    cluster = await _log_cluster(request, write=False)
    query = LogQuery(since=fr, until=to, inclusive=False, descending=False,
                     limit=LEGACY_LOG_LIMIT)
    rows = await run_in_threadpool(store.query_logs, cluster.id, query)
    return _json([{"when": r["time"].strftime(LEGACY_TIME_FORMAT), "text": r["text"]}
                  for r in rows])


def routes() -> list[Route]:
    return [Route("/cluster", cluster_endpoint, methods=["GET"]),
            Route("/logs", logs_endpoint, methods=["GET", "POST"])]
