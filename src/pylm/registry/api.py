"""The JSON API under ``/api/v1`` (docs/runner-protocol.md and docs/registry.md).

Authentication is ``Authorization: Bearer TOKEN``: a user's API key, or, for the runner
calls (join, heartbeat, events, log ingest), a generated cluster key. Errors are
``{"error": "short reason"}`` with a 4xx status.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pylm.registry.access import admin_caller, caller, cluster_for, store_of
from pylm.registry.bodies import iso_time, json_body, json_object, string_field
from pylm.registry.config import ConfigError
from pylm.registry.errors import HttpError
from pylm.registry.logs_api import follow_logs, read_logs
from pylm.registry.openapi import SCHEMA
from pylm.registry.runner_api import events, heartbeat, ingest_logs, instance_json, join
from pylm.registry.status import node_state, status_view
from pylm.registry.store import ClusterInfo, Conflict, NotFound, UserInfo, utcnow

__all__ = ["routes"]

PREFIX = "/api/v1"
MAX_NAME_CHARS = 100
MAX_KEY_CHARS = 200


def _cluster_json(cluster: ClusterInfo) -> dict[str, Any]:
    config = cluster.config
    return {"key": cluster.key, "alias": cluster.alias, "key_generated": cluster.key_generated,
            "created_at": iso_time(cluster.created_at), "retention": cluster.retention,
            "ready": cluster.placement.ready(config), "config": cluster.description}


async def list_clusters(request: Request) -> Response:
    user = await caller(request)
    owned = await run_in_threadpool(store_of(request).clusters_of, user.id)
    return JSONResponse({"clusters": [_cluster_json(c) for c in owned]})


async def create_cluster(request: Request) -> Response:
    user = await caller(request)
    body = json_object(await json_body(request))
    config = string_field(body, "config", limit=1024 * 1024)
    alias = string_field(body, "alias", limit=MAX_KEY_CHARS, required=False)
    key = body.get("key")
    if key is not None:
        key = string_field(body, "key", limit=MAX_KEY_CHARS).strip()
    try:
        cluster = await run_in_threadpool(store_of(request).create_cluster, user.id, config,
                                          key=key, alias=alias)
    except ConfigError as exc:
        raise HttpError(400, str(exc)) from None
    except Conflict as exc:
        raise HttpError(409, str(exc)) from None
    return JSONResponse(_cluster_json(cluster), status_code=201)


async def get_cluster(request: Request) -> Response:
    return JSONResponse(_cluster_json(await cluster_for(request)))


async def patch_cluster(request: Request) -> Response:
    cluster = await cluster_for(request)
    body = json_object(await json_body(request))
    if "retention" not in body:
        raise HttpError(400, "retention: missing")
    retention = body["retention"]
    if retention is not None and (isinstance(retention, bool) or not isinstance(retention, int)
                                  or not 1 <= retention < 2**62):
        raise HttpError(400, "retention: a positive number of lines or null")
    await run_in_threadpool(store_of(request).set_retention, cluster.id, retention)
    if retention is not None:
        await run_in_threadpool(store_of(request).prune, cluster.id, retention)
    return JSONResponse({"key": cluster.key, "retention": retention})


async def delete_cluster(request: Request) -> Response:
    cluster = await cluster_for(request)
    await run_in_threadpool(store_of(request).delete_cluster, cluster.id)
    return JSONResponse({"deleted": cluster.key})


async def reset_cluster(request: Request) -> Response:
    cluster = await cluster_for(request)
    await run_in_threadpool(store_of(request).reset_cluster, cluster.id)
    return JSONResponse({"reset": cluster.key})


async def cluster_status(request: Request) -> Response:
    cluster = await cluster_for(request)
    store = store_of(request)
    node_rows = await run_in_threadpool(store.node_rows, cluster.id)
    state_rows = await run_in_threadpool(store.state_rows, cluster.id)
    return JSONResponse(status_view(cluster, node_rows, state_rows,
                                    request.app.state.settings.lost_seconds, utcnow()))


async def cluster_placement(request: Request) -> Response:
    cluster = await cluster_for(request)
    placement = cluster.placement
    return JSONResponse({
        "sockets": dict(placement.sockets), "highest_ports": dict(placement.highest_ports),
        "instances": [{**instance_json(i), "node": i.node} for i in placement.instances]})


async def cluster_nodes(request: Request) -> Response:
    cluster = await cluster_for(request)
    rows = await run_in_threadpool(store_of(request).node_rows, cluster.id)
    lost_after = request.app.state.settings.lost_seconds
    now = utcnow()
    return JSONResponse({"nodes": [
        {"name": n["name"], "ip": n["ip"], "joined_at": iso_time(n["joined_at"]),
         "last_heartbeat": iso_time(n["last_heartbeat"]),
         "state": node_state(n["last_heartbeat"], now, lost_after)} for n in rows]})



def _user_json(user: UserInfo) -> dict[str, Any]:
    return {"name": user.name, "admin": user.is_admin, "active": user.active,
            "created_at": iso_time(user.created_at)}


async def me(request: Request) -> Response:
    return JSONResponse(_user_json(await caller(request)))


async def list_users(request: Request) -> Response:
    await admin_caller(request)
    return JSONResponse({"users": [_user_json(u) for u in
                                   await run_in_threadpool(store_of(request).list_users)]})


async def add_user(request: Request) -> Response:
    await admin_caller(request)
    body = json_object(await json_body(request))
    name = string_field(body, "name", limit=MAX_NAME_CHARS).strip()
    password = string_field(body, "password", limit=1024)
    admin = body.get("admin", False)
    if not isinstance(admin, bool):
        raise HttpError(400, "admin: true or false")
    try:
        user, key = await run_in_threadpool(store_of(request).add_user, name, password,
                                            admin=admin)
    except Conflict as exc:
        raise HttpError(409, str(exc)) from None
    return JSONResponse({**_user_json(user), "api_key": key}, status_code=201)


async def deactivate_user(request: Request) -> Response:
    await admin_caller(request)
    try:
        user = await run_in_threadpool(store_of(request).set_active,
                                       request.path_params["name"], False)
    except NotFound as exc:
        raise HttpError(404, str(exc)) from None
    return JSONResponse(_user_json(user))


async def new_user_key(request: Request) -> Response:
    user = await caller(request)
    name = request.path_params["name"]
    if not user.is_admin and user.name != name:
        raise HttpError(403, "administrators only")
    try:
        key = await run_in_threadpool(store_of(request).new_key, name)
    except NotFound as exc:
        raise HttpError(404, str(exc)) from None
    return JSONResponse({"name": name, "api_key": key}, status_code=201)


async def openapi(request: Request) -> Response:
    return JSONResponse(SCHEMA)


def routes() -> list[Route]:
    c = PREFIX + "/clusters/{cluster}"
    return [
        Route(PREFIX + "/openapi.json", openapi, methods=["GET"]),
        Route(PREFIX + "/me", me, methods=["GET"]),
        Route(PREFIX + "/clusters", list_clusters, methods=["GET"]),
        Route(PREFIX + "/clusters", create_cluster, methods=["POST"]),
        Route(c, get_cluster, methods=["GET"]),
        Route(c, patch_cluster, methods=["PATCH"]),
        Route(c, delete_cluster, methods=["DELETE"]),
        Route(c + "/reset", reset_cluster, methods=["POST"]),
        Route(c + "/status", cluster_status, methods=["GET"]),
        Route(c + "/placement", cluster_placement, methods=["GET"]),
        Route(c + "/nodes", cluster_nodes, methods=["GET"]),
        Route(c + "/join", join, methods=["POST"]),
        Route(c + "/nodes/{node}/heartbeat", heartbeat, methods=["POST"]),
        Route(c + "/events", events, methods=["POST"]),
        Route(c + "/logs", ingest_logs, methods=["POST"]),
        Route(c + "/logs", read_logs, methods=["GET"]),
        Route(c + "/logs/follow", follow_logs, methods=["GET"]),
        Route(PREFIX + "/users", list_users, methods=["GET"]),
        Route(PREFIX + "/users", add_user, methods=["POST"]),
        Route(PREFIX + "/users/{name}/deactivate", deactivate_user, methods=["POST"]),
        Route(PREFIX + "/users/{name}/keys", new_user_key, methods=["POST"]),
    ]
