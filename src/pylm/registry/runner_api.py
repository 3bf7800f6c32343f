"""The runner calls of the JSON API (docs/runner-protocol.md): join, heartbeat, events, logs.

Each accepts the owner's API key or, for a cluster whose key the registry generated, that
cluster key.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pylm.registry.access import cluster_for, store_of
from pylm.registry.bodies import json_body, json_object, optional_int, string_field
from pylm.registry.config import ConfigError, node_from_fields
from pylm.registry.errors import HttpError
from pylm.registry.logs import LogInputError, LogRow, parse_time, validate_lines
from pylm.registry.planner import PlacedInstance, PlacementError
from pylm.registry.store import NotFound, utcnow

__all__ = ["EventKind", "InstanceStateName", "events", "heartbeat", "ingest_logs",
           "instance_json", "join"]


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


def instance_json(inst: PlacedInstance) -> dict[str, Any]:
    return {"service": inst.service, "replica": inst.replica, "instance": inst.instance,
            "command": inst.command, "restart": inst.restart.value}


async def join(request: Request) -> Response:
    cluster = await cluster_for(request, runner=True)
    body = json_object(await json_body(request))
    try:
        node = node_from_fields({k: v for k, v in body.items() if isinstance(k, str)})
        placed = await run_in_threadpool(store_of(request).join, cluster.key, node)
    except ConfigError as exc:
        raise HttpError(400, str(exc)) from None
    except PlacementError as exc:
        raise HttpError(409, str(exc)) from None
    except NotFound:
        raise HttpError(404, "cluster not found") from None
    return JSONResponse({"node": node.name,
                         "heartbeat_interval": request.app.state.settings.heartbeat_interval,
                         "instances": [instance_json(p) for p in placed]})


async def heartbeat(request: Request) -> Response:
    cluster = await cluster_for(request, runner=True)
    node = request.path_params["node"]
    if len(node) > 200:
        raise HttpError(400, "node: at most 200 characters")
    body = json_object(await json_body(request))
    reports = body.get("instances", [])
    if not isinstance(reports, list):
        raise HttpError(400, "instances: expected a list")
    clean = []
    for i, report in enumerate(reports):
        if not isinstance(report, dict):
            raise HttpError(400, f"instances[{i}]: expected an object")
        instance = string_field(report, "instance", limit=300)
        state = report.get("state")
        if state not in InstanceStateName.__members__.values():
            raise HttpError(400, f"instances[{i}].state: one of "
                            + ", ".join(s.value for s in InstanceStateName))
        started = report.get("started_at")
        if started is not None and (not isinstance(started, str) or len(started) > 40):
            raise HttpError(400, f"instances[{i}].started_at: an ISO 8601 string or null")
        restarts = optional_int(report, "restarts") or 0
        clean.append({"instance": instance, "state": state, "pid": optional_int(report, "pid"),
                      "restarts": restarts, "last_exit": optional_int(report, "last_exit"),
                      "started_at": started})
    await run_in_threadpool(store_of(request).heartbeat, cluster.id, node, clean)
    return JSONResponse({"ok": True})


EVENT_STATES = {EventKind.START: "running", EventKind.EXIT: "exited",
                EventKind.RESTART: "starting", EventKind.CRASHLOOP: "crashloop",
                EventKind.STOP: "stopped", EventKind.ERROR: "failed"}


async def events(request: Request) -> Response:
    cluster = await cluster_for(request, runner=True)
    body = json_object(await json_body(request))
    items = body.get("events")
    if not isinstance(items, list):
        raise HttpError(400, "events: expected a list")
    store = store_of(request)
    lines = []
    parsed = []
    for i, event in enumerate(items):
        if not isinstance(event, dict):
            raise HttpError(400, f"events[{i}]: expected an object")
        kind = event.get("kind")
        if kind not in EventKind.__members__.values():
            raise HttpError(400, f"events[{i}].kind: one of " + ", ".join(EventKind))
        node = string_field(event, "node", limit=200)
        instance = string_field(event, "instance", limit=300)
        raw_time = event.get("time")
        if not isinstance(raw_time, str):
            raise HttpError(400, f"events[{i}].time: an ISO 8601 string")
        try:
            when = parse_time(raw_time, f"events[{i}].time")
        except LogInputError as exc:
            raise HttpError(400, str(exc)) from None
        pid, status, signal = (optional_int(event, n) for n in ("pid", "status", "signal"))
        detail = event.get("detail", "") or ""
        if not isinstance(detail, str):
            raise HttpError(400, f"events[{i}].detail: a string")
        parsed.append((EventKind(kind), node, instance, when, pid, status, raw_time))
        text = f"{kind} pid={pid} status={status} signal={signal}" + (
            f" {detail[:4000]}" if detail else "")
        lines.append(LogRow(when, node, instance.rpartition(".")[0], instance, "event",
                            "events", None, text))
    updates = []
    for kind, node, instance, _when, pid, status, raw_time in parsed:
        changes: dict[str, Any] = {"state": EVENT_STATES[kind]}
        if kind is EventKind.START:
            changes.update(pid=pid, started_at=raw_time[:40])
        elif kind is EventKind.EXIT:
            changes.update(last_exit=status)
        updates.append((instance, node, changes, kind is EventKind.RESTART))
    await run_in_threadpool(store.record_states, cluster.id, updates)
    await run_in_threadpool(store.ingest, cluster.id, lines)
    return JSONResponse({"accepted": len(parsed)})


async def ingest_logs(request: Request) -> Response:
    cluster = await cluster_for(request, runner=True)
    body = await json_body(request)
    try:
        rows = validate_lines(body, utcnow())
    except LogInputError as exc:
        raise HttpError(400, str(exc)) from None
    accepted = await run_in_threadpool(store_of(request).ingest, cluster.id, rows)
    request.app.state.metrics.count_lines(accepted, len(rows) - accepted)
    return JSONResponse({"accepted": accepted, "duplicates": len(rows) - accepted})
