"""The JSON API under ``/api/v1`` (docs/runner-protocol.md and docs/registry.md).

Authentication is ``Authorization: Bearer TOKEN``: a user's API key, or, for the runner
calls (join, heartbeat, events, log ingest), a generated cluster key. A GET without an
``Authorization`` header may instead carry the web interface's session cookie
(:mod:`.sessions`), so the dashboard's pages read status and logs; nothing that changes
state takes the cookie. Errors are
``{"error": "short reason"}`` with a 4xx status.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC
from enum import StrEnum
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from pylm.registry.config import ConfigError, node_from_fields
from pylm.registry.errors import HttpError
from pylm.registry.logs import (
    LogInputError,
    LogQuery,
    encode_cursor,
    format_line,
    parse_time,
    query_from_params,
    validate_lines,
)
from pylm.registry.openapi import SCHEMA
from pylm.registry.planner import PlacedInstance, PlacementError
from pylm.registry.sessions import cookie_user
from pylm.registry.store import ClusterInfo, Conflict, NotFound, Store, UserInfo, utcnow

__all__ = ["EventKind", "InstanceStateName", "routes"]

PREFIX = "/api/v1"
MAX_NAME_CHARS = 100
MAX_KEY_CHARS = 200
KEEPALIVE_SECONDS = 15.0
FOLLOW_BATCH = 500


class InstanceStateName(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    CRASHLOOP = "crashloop"
    EXITED = "exited"
    FAILED = "failed"
    STOPPED = "stopped"


class EventKind(StrEnum):
    START = "start"
    EXIT = "exit"
    RESTART = "restart"
    CRASHLOOP = "crashloop"
    STOP = "stop"
    ERROR = "error"


def _store(request: Request) -> Store:
    return request.app.state.store


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpError(401, "missing bearer token")
    return token.strip()


async def _browser_user(request: Request) -> UserInfo | None:
    """The session cookie's user, for reads without an ``Authorization`` header."""
    if request.method not in ("GET", "HEAD") or "authorization" in request.headers:
        return None
    return await cookie_user(request)


async def _user(request: Request) -> UserInfo:
    browser = await _browser_user(request)
    if browser is not None:
        return browser
    user = await run_in_threadpool(_store(request).user_by_key, _token(request))
    if user is None:
        raise HttpError(403, "invalid API key")
    return user


async def _admin(request: Request) -> UserInfo:
    user = await _user(request)
    if not user.is_admin:
        raise HttpError(403, "administrators only")
    return user


async def _cluster(request: Request, *, runner: bool = False) -> ClusterInfo:
    """The cluster in the path, if the token may use it (owner; or join key when ``runner``)."""
    browser = await _browser_user(request)
    token = "" if browser is not None else _token(request)
    store = _store(request)
    cluster = await run_in_threadpool(store.get_cluster, request.path_params["cluster"])
    if cluster is None:
        raise HttpError(404, "cluster not found")
    if runner and token and cluster.key_generated and hmac.compare_digest(
            token.encode(), cluster.key.encode()):
        return cluster
    user = browser or await run_in_threadpool(store.user_by_key, token)
    if user is None or user.id != cluster.owner_id:
        raise HttpError(403, "not allowed for this cluster")
    return cluster


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HttpError(400, "body: not JSON") from None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HttpError(400, "body: expected a JSON object")
    return body


def _string(body: dict[str, Any], name: str, *, limit: int, required: bool = True,
            default: str = "") -> str:
    value = body.get(name, None if required else default)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise HttpError(400, f"{name}: a non-empty string of at most {limit} characters"
                        if required else f"{name}: a string of at most {limit} characters")
    return value


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -2**31 <= value < 2**31:
        raise HttpError(400, f"{name}: an integer or null")
    return value


def _iso(value: Any) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value is not None else None


def _cluster_json(cluster: ClusterInfo) -> dict[str, Any]:
    config = cluster.config
    return {"key": cluster.key, "alias": cluster.alias, "key_generated": cluster.key_generated,
            "created_at": _iso(cluster.created_at), "retention": cluster.retention,
            "ready": cluster.placement.ready(config), "config": cluster.description}


def _instance_json(inst: PlacedInstance) -> dict[str, Any]:
    return {"service": inst.service, "replica": inst.replica, "instance": inst.instance,
            "command": inst.command, "restart": inst.restart.value}


# -- clusters ---------------------------------------------------------------------------------
async def list_clusters(request: Request) -> Response:
    user = await _user(request)
    owned = await run_in_threadpool(_store(request).clusters_of, user.id)
    return JSONResponse({"clusters": [_cluster_json(c) for c in owned]})


async def create_cluster(request: Request) -> Response:
    user = await _user(request)
    body = _object(await _body(request))
    config = _string(body, "config", limit=1024 * 1024)
    alias = _string(body, "alias", limit=MAX_KEY_CHARS, required=False)
    key = body.get("key")
    if key is not None:
        key = _string(body, "key", limit=MAX_KEY_CHARS).strip()
    try:
        cluster = await run_in_threadpool(_store(request).create_cluster, user.id, config,
                                          key=key, alias=alias)
    except ConfigError as exc:
        raise HttpError(400, str(exc)) from None
    except Conflict as exc:
        raise HttpError(409, str(exc)) from None
    return JSONResponse(_cluster_json(cluster), status_code=201)


async def get_cluster(request: Request) -> Response:
    return JSONResponse(_cluster_json(await _cluster(request)))


async def patch_cluster(request: Request) -> Response:
    cluster = await _cluster(request)
    body = _object(await _body(request))
    if "retention" not in body:
        raise HttpError(400, "retention: missing")
    retention = body["retention"]
    if retention is not None and (isinstance(retention, bool) or not isinstance(retention, int)
                                  or not 1 <= retention < 2**62):
        raise HttpError(400, "retention: a positive number of lines or null")
    await run_in_threadpool(_store(request).set_retention, cluster.id, retention)
    if retention is not None:
        await run_in_threadpool(_store(request).prune, cluster.id, retention)
    return JSONResponse({"key": cluster.key, "retention": retention})


async def delete_cluster(request: Request) -> Response:
    cluster = await _cluster(request)
    await run_in_threadpool(_store(request).delete_cluster, cluster.id)
    return JSONResponse({"deleted": cluster.key})


async def reset_cluster(request: Request) -> Response:
    cluster = await _cluster(request)
    await run_in_threadpool(_store(request).reset_cluster, cluster.id)
    return JSONResponse({"reset": cluster.key})


async def cluster_status(request: Request) -> Response:
    cluster = await _cluster(request)
    store = _store(request)
    node_rows = await run_in_threadpool(store.node_rows, cluster.id)
    state_rows = await run_in_threadpool(store.state_rows, cluster.id)
    return JSONResponse(status_json(cluster, node_rows, state_rows,
                                    request.app.state.settings.lost_seconds))


def status_json(cluster: ClusterInfo, node_rows: list[dict[str, Any]],
                state_rows: dict[str, dict[str, Any]], lost_after: float) -> dict[str, Any]:
    """Spec §3 status: sockets, ports, services placed/needed, instances, nodes (live/lost)."""
    config, placement = cluster.config, cluster.placement
    now = utcnow()
    lost = {n["name"] for n in node_rows
            if (now - n["last_heartbeat"]).total_seconds() > lost_after}
    instances = []
    for inst in placement.instances:
        state = state_rows.get(inst.instance, {})
        instances.append({
            **_instance_json(inst), "node": inst.node,
            "state": "lost" if inst.node in lost else state.get("state", "placed"),
            "restarts": state.get("restarts", 0), "last_exit": state.get("last_exit"),
            "started_at": state.get("started_at"), "pid": state.get("pid")})
    ips = {n["name"]: n["ip"] for n in node_rows}
    ips.update({name: spec.ip for name, spec in placement.nodes.items()})
    return {
        "key": cluster.key, "alias": cluster.alias, "ready": placement.ready(config),
        "sockets": dict(placement.sockets), "highest_ports": dict(placement.highest_ports),
        "services": {s.name: {"placed": placement.placed(s.name), "needed": s.replicas,
                              "role": s.role} for s in config.services},
        "instances": instances,
        "nodes": [{"name": n["name"], "ip": ips.get(n["name"], n["ip"]),
                   "last_heartbeat": _iso(n["last_heartbeat"]),
                   "state": "lost" if n["name"] in lost else "live"} for n in node_rows],
    }


async def cluster_placement(request: Request) -> Response:
    cluster = await _cluster(request)
    placement = cluster.placement
    return JSONResponse({
        "sockets": dict(placement.sockets), "highest_ports": dict(placement.highest_ports),
        "instances": [{**_instance_json(i), "node": i.node} for i in placement.instances]})


async def cluster_nodes(request: Request) -> Response:
    cluster = await _cluster(request)
    rows = await run_in_threadpool(_store(request).node_rows, cluster.id)
    lost_after = request.app.state.settings.lost_seconds
    now = utcnow()
    return JSONResponse({"nodes": [
        {"name": n["name"], "ip": n["ip"], "joined_at": _iso(n["joined_at"]),
         "last_heartbeat": _iso(n["last_heartbeat"]),
         "state": "lost" if (now - n["last_heartbeat"]).total_seconds() > lost_after
         else "live"} for n in rows]})


# -- runner calls -----------------------------------------------------------------------------
async def join(request: Request) -> Response:
    cluster = await _cluster(request, runner=True)
    body = _object(await _body(request))
    try:
        node = node_from_fields({k: v for k, v in body.items() if isinstance(k, str)})
        placed = await run_in_threadpool(_store(request).join, cluster.key, node)
    except ConfigError as exc:
        raise HttpError(400, str(exc)) from None
    except PlacementError as exc:
        raise HttpError(409, str(exc)) from None
    except NotFound:
        raise HttpError(404, "cluster not found") from None
    return JSONResponse({"node": node.name,
                         "heartbeat_interval": request.app.state.settings.heartbeat_interval,
                         "instances": [_instance_json(p) for p in placed]})


async def heartbeat(request: Request) -> Response:
    cluster = await _cluster(request, runner=True)
    node = request.path_params["node"]
    if len(node) > 200:
        raise HttpError(400, "node: at most 200 characters")
    body = _object(await _body(request))
    reports = body.get("instances", [])
    if not isinstance(reports, list):
        raise HttpError(400, "instances: expected a list")
    clean = []
    for i, report in enumerate(reports):
        if not isinstance(report, dict):
            raise HttpError(400, f"instances[{i}]: expected an object")
        instance = _string(report, "instance", limit=300)
        state = report.get("state")
        if state not in InstanceStateName.__members__.values():
            raise HttpError(400, f"instances[{i}].state: one of "
                            + ", ".join(s.value for s in InstanceStateName))
        started = report.get("started_at")
        if started is not None and (not isinstance(started, str) or len(started) > 40):
            raise HttpError(400, f"instances[{i}].started_at: an ISO 8601 string or null")
        restarts = _optional_int(report, "restarts") or 0
        clean.append({"instance": instance, "state": state, "pid": _optional_int(report, "pid"),
                      "restarts": restarts, "last_exit": _optional_int(report, "last_exit"),
                      "started_at": started})
    await run_in_threadpool(_store(request).heartbeat, cluster.id, node, clean)
    return JSONResponse({"ok": True})


EVENT_STATES = {EventKind.START: "running", EventKind.EXIT: "exited",
                EventKind.RESTART: "starting", EventKind.CRASHLOOP: "crashloop",
                EventKind.STOP: "stopped", EventKind.ERROR: "failed"}


async def events(request: Request) -> Response:
    cluster = await _cluster(request, runner=True)
    body = _object(await _body(request))
    items = body.get("events")
    if not isinstance(items, list):
        raise HttpError(400, "events: expected a list")
    store = _store(request)
    lines = []
    parsed = []
    for i, event in enumerate(items):
        if not isinstance(event, dict):
            raise HttpError(400, f"events[{i}]: expected an object")
        kind = event.get("kind")
        if kind not in EventKind.__members__.values():
            raise HttpError(400, f"events[{i}].kind: one of " + ", ".join(EventKind))
        node = _string(event, "node", limit=200)
        instance = _string(event, "instance", limit=300)
        raw_time = event.get("time")
        if not isinstance(raw_time, str):
            raise HttpError(400, f"events[{i}].time: an ISO 8601 string")
        try:
            when = parse_time(raw_time, f"events[{i}].time")
        except LogInputError as exc:
            raise HttpError(400, str(exc)) from None
        pid, status, signal = (_optional_int(event, n) for n in ("pid", "status", "signal"))
        detail = event.get("detail", "") or ""
        if not isinstance(detail, str):
            raise HttpError(400, f"events[{i}].detail: a string")
        parsed.append((EventKind(kind), node, instance, when, pid, status, raw_time))
        text = f"{kind} pid={pid} status={status} signal={signal}" + (
            f" {detail[:4000]}" if detail else "")
        lines.append({"time": when, "node": node, "service": instance.rpartition(".")[0],
                      "instance": instance, "stream": "event", "source": "events",
                      "seq": None, "text": text})
    for kind, node, instance, _when, pid, status, raw_time in parsed:
        changes: dict[str, Any] = {"state": EVENT_STATES[kind]}
        if kind is EventKind.START:
            changes.update(pid=pid, started_at=raw_time[:40])
        elif kind is EventKind.EXIT:
            changes.update(last_exit=status)
        await run_in_threadpool(store.record_state, cluster.id, instance, node, changes,
                                kind is EventKind.RESTART)
    await run_in_threadpool(store.ingest, cluster.id, lines)
    return JSONResponse({"accepted": len(parsed)})


async def ingest_logs(request: Request) -> Response:
    cluster = await _cluster(request, runner=True)
    body = await _body(request)
    try:
        rows = validate_lines(body, utcnow())
    except LogInputError as exc:
        raise HttpError(400, str(exc)) from None
    accepted = await run_in_threadpool(_store(request).ingest, cluster.id, rows)
    request.app.state.metrics.count_lines(accepted, len(rows) - accepted)
    return JSONResponse({"accepted": accepted, "duplicates": len(rows) - accepted})


# -- reading logs -----------------------------------------------------------------------------
def _query(request: Request) -> LogQuery:
    try:
        return query_from_params(request.query_params, _store(request).secret)
    except LogInputError as exc:
        raise HttpError(400, str(exc)) from None


async def read_logs(request: Request) -> Response:
    cluster = await _cluster(request)
    query = _query(request)
    rows = await run_in_threadpool(_store(request).query_logs, cluster.id, query)
    cursor = None
    if query.limit is not None and len(rows) == query.limit:
        cursor = encode_cursor(_store(request).secret, query, rows[-1]["id"])
    return JSONResponse({"lines": [format_line(r) for r in rows], "next_cursor": cursor})


async def follow_logs(request: Request) -> Response:
    cluster = await _cluster(request)
    base = _query(request)
    store = _store(request)
    poll = request.app.state.settings.follow_poll
    after = request.query_params.get("after")
    if after is not None:
        if not after.isdigit() or len(after) > 18:
            raise HttpError(400, "after: a line id")
        base = LogQuery(**{**base.__dict__, "after_id": int(after)})
    if base.after_id is None:
        newest = await run_in_threadpool(store.query_logs, cluster.id, LogQuery(limit=1))
        last_id = newest[0]["id"] if newest else 0
    else:
        last_id = base.after_id
    query = LogQuery(service=base.service, node=base.node, instance=base.instance,
                     stream=base.stream, since=base.since, until=base.until, text=base.text,
                     descending=False, limit=FOLLOW_BATCH)

    async def events_stream() -> AsyncIterator[str]:
        nonlocal last_id
        quiet = 0.0
        yield ": following\n\n"
        while True:
            rows = await run_in_threadpool(
                store.query_logs, cluster.id,
                LogQuery(**{**query.__dict__, "after_id": last_id}))
            for row in rows:
                last_id = row["id"]
                yield f"id: {row['id']}\ndata: {json.dumps(format_line(row))}\n\n"
            if rows:
                quiet = 0.0
                continue
            await asyncio.sleep(poll)
            quiet += poll
            if quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": keepalive\n\n"

    return StreamingResponse(events_stream(), media_type="text/event-stream",
                             headers={"cache-control": "no-store"})


# -- users ------------------------------------------------------------------------------------
def _user_json(user: UserInfo) -> dict[str, Any]:
    return {"name": user.name, "admin": user.is_admin, "active": user.active,
            "created_at": _iso(user.created_at)}


async def me(request: Request) -> Response:
    return JSONResponse(_user_json(await _user(request)))


async def list_users(request: Request) -> Response:
    await _admin(request)
    return JSONResponse({"users": [_user_json(u) for u in
                                   await run_in_threadpool(_store(request).list_users)]})


async def add_user(request: Request) -> Response:
    await _admin(request)
    body = _object(await _body(request))
    name = _string(body, "name", limit=MAX_NAME_CHARS).strip()
    password = _string(body, "password", limit=1024)
    admin = body.get("admin", False)
    if not isinstance(admin, bool):
        raise HttpError(400, "admin: true or false")
    try:
        user, key = await run_in_threadpool(_store(request).add_user, name, password,
                                            admin=admin)
    except Conflict as exc:
        raise HttpError(409, str(exc)) from None
    return JSONResponse({**_user_json(user), "api_key": key}, status_code=201)


async def deactivate_user(request: Request) -> Response:
    await _admin(request)
    try:
        user = await run_in_threadpool(_store(request).set_active,
                                       request.path_params["name"], False)
    except NotFound as exc:
        raise HttpError(404, str(exc)) from None
    return JSONResponse(_user_json(user))


async def new_user_key(request: Request) -> Response:
    caller = await _user(request)
    name = request.path_params["name"]
    if not caller.is_admin and caller.name != name:
        raise HttpError(403, "administrators only")
    try:
        key = await run_in_threadpool(_store(request).new_key, name)
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
