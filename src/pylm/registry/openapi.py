"""The OpenAPI 3.1 description of ``/api/v1``, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


ERROR = {"description": "error", **_json(_ref("Error"))}
ERRORS = {"400": ERROR, "401": ERROR, "403": ERROR, "404": ERROR, "409": ERROR, "413": ERROR}
CLUSTER = {"name": "cluster", "in": "path", "required": True, "schema": {"type": "string"}}
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
NODE = {"name": "node", "in": "path", "required": True, "schema": {"type": "string"}}


def _op(summary: str, answer: dict[str, Any], *, body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, status: str = "200") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": params or [],
                          "responses": {status: {"description": "ok", **_json(answer)}, **ERRORS}}
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    return op


OBJ: dict[str, Any] = {"type": "object"}
LOG_FILTERS = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
               for n in ("service", "node", "instance", "stream", "q", "cursor")] + [
    {"name": "from", "in": "query", "required": False,
     "schema": {"type": "string", "format": "date-time"}},
    {"name": "to", "in": "query", "required": False,
     "schema": {"type": "string", "format": "date-time"}},
    {"name": "order", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["asc", "desc"]}},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
]

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}}},
    "Cluster": {"type": "object", "properties": {
        "key": {"type": "string"}, "alias": {"type": "string"},
        "key_generated": {"type": "boolean"}, "created_at": {"type": "string"},
        "retention": {"type": ["integer", "null"]}, "ready": {"type": "boolean"},
        "config": {"type": "string"}}},
    "NewCluster": {"type": "object", "required": ["config"], "properties": {
        "config": {"type": "string", "description": "cluster INI text (spec §1)"},
        "alias": {"type": "string"}, "key": {"type": "string"}}},
    "Node": {"type": "object", "required": ["name", "ip", "processors", "ports_from"],
             "properties": {"name": {"type": "string"}, "ip": {"type": "string"},
                            "processors": {"type": "integer", "minimum": 1},
                            "ports_from": {"type": "integer", "minimum": 1,
                                           "maximum": 65535}}},
    "Instance": {"type": "object", "properties": {
        "service": {"type": "string"}, "replica": {"type": "integer"},
        "instance": {"type": "string"}, "command": {"type": "string"},
        "restart": {"type": "string", "enum": ["always", "on-failure", "never"]}}},
    "Heartbeat": {"type": "object", "properties": {"instances": {"type": "array", "items": {
        "type": "object", "required": ["instance", "state"], "properties": {
            "instance": {"type": "string"},
            "state": {"type": "string", "enum": ["starting", "running", "backoff", "crashloop",
                                                 "exited", "failed", "stopped"]},
            "pid": {"type": ["integer", "null"]}, "restarts": {"type": "integer"},
            "last_exit": {"type": ["integer", "null"]},
            "started_at": {"type": ["string", "null"]}}}}}},
    "Events": {"type": "object", "required": ["events"], "properties": {"events": {
        "type": "array", "items": {"type": "object",
                                   "required": ["node", "instance", "kind", "time"],
                                   "properties": {
            "node": {"type": "string"}, "instance": {"type": "string"},
            "kind": {"type": "string",
                     "enum": ["start", "exit", "restart", "crashloop", "stop", "error"]},
            "time": {"type": "string", "format": "date-time"},
            "pid": {"type": ["integer", "null"]}, "status": {"type": ["integer", "null"]},
            "signal": {"type": ["integer", "null"]}, "detail": {"type": "string"}}}}}},
    "LogBatch": {"type": "object", "required": ["lines"], "properties": {
        "source": {"type": "string"},
        "lines": {"type": "array", "items": {"type": "object", "required": ["text"],
                                             "properties": {
            "node": {"type": "string"}, "service": {"type": "string"},
            "instance": {"type": "string"},
            "stream": {"type": "string", "enum": ["stdout", "stderr", "event"]},
            "time": {"type": "string", "format": "date-time"},
            "seq": {"type": "integer", "minimum": 0}, "text": {"type": "string"}}}}}},
    "LogLine": {"type": "object", "properties": {
        "id": {"type": "integer"}, "time": {"type": "string"}, "node": {"type": "string"},
        "service": {"type": "string"}, "instance": {"type": "string"},
        "stream": {"type": "string"}, "seq": {"type": ["integer", "null"]},
        "text": {"type": "string"}}},
    "User": {"type": "object", "properties": {
        "name": {"type": "string"}, "admin": {"type": "boolean"}, "active": {"type": "boolean"},
        "created_at": {"type": "string"}, "api_key": {"type": "string"}}},
    "NewUser": {"type": "object", "required": ["name", "password"], "properties": {
        "name": {"type": "string"}, "password": {"type": "string"},
        "admin": {"type": "boolean"}}},
}

SCHEMA: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "pylm registry", "version": "1"},
    "servers": [{"url": "/"}],
    "components": {"schemas": SCHEMAS, "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/me": {"get": _op("the caller", _ref("User"))},
        "/api/v1/clusters": {
            "get": _op("clusters of the caller", OBJ),
            "post": _op("create a cluster", _ref("Cluster"), body=_ref("NewCluster"),
                        status="201")},
        "/api/v1/clusters/{cluster}": {
            "get": _op("one cluster", _ref("Cluster"), params=[CLUSTER]),
            "patch": _op("set the log retention (lines)", OBJ, params=[CLUSTER], body={
                "type": "object", "required": ["retention"],
                "properties": {"retention": {"type": ["integer", "null"], "minimum": 1}}}),
            "delete": _op("delete a cluster", OBJ, params=[CLUSTER])},
        "/api/v1/clusters/{cluster}/reset": {
            "post": _op("forget the placement", OBJ, params=[CLUSTER])},
        "/api/v1/clusters/{cluster}/status": {
            "get": _op("status (spec §3)", OBJ, params=[CLUSTER])},
        "/api/v1/clusters/{cluster}/placement": {
            "get": _op("placement", OBJ, params=[CLUSTER])},
        "/api/v1/clusters/{cluster}/nodes": {
            "get": _op("nodes that joined", OBJ, params=[CLUSTER])},
        "/api/v1/clusters/{cluster}/join": {
            "post": _op("a runner joins", {"type": "object", "properties": {
                "node": {"type": "string"}, "heartbeat_interval": {"type": "number"},
                "instances": {"type": "array", "items": _ref("Instance")}}},
                params=[CLUSTER], body=_ref("Node"))},
        "/api/v1/clusters/{cluster}/nodes/{node}/heartbeat": {
            "post": _op("runner heartbeat", OBJ, params=[CLUSTER, NODE],
                        body=_ref("Heartbeat"))},
        "/api/v1/clusters/{cluster}/events": {
            "post": _op("runner events", OBJ, params=[CLUSTER], body=_ref("Events"))},
        "/api/v1/clusters/{cluster}/logs": {
            "post": _op("ingest log lines", {"type": "object", "properties": {
                "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}}},
                params=[CLUSTER], body=_ref("LogBatch")),
            "get": _op("query log lines", {"type": "object", "properties": {
                "lines": {"type": "array", "items": _ref("LogLine")},
                "next_cursor": {"type": ["string", "null"]}}},
                params=[CLUSTER, *LOG_FILTERS])},
        "/api/v1/clusters/{cluster}/logs/follow": {
            "get": {"summary": "new log lines as server-sent events (data: <line JSON>)",
                    "parameters": [CLUSTER, *LOG_FILTERS,
                                   {"name": "after", "in": "query", "required": False,
                                    "schema": {"type": "integer", "minimum": 0}}],
                    "responses": {"200": {"description": "an endless event stream",
                                          "content": {"text/event-stream": {
                                              "schema": {"type": "string"}}}}, **ERRORS}}},
        "/api/v1/users": {
            "get": _op("all users (admin)", OBJ),
            "post": _op("add a user (admin)", _ref("User"), body=_ref("NewUser"),
                        status="201")},
        "/api/v1/users/{name}/deactivate": {
            "post": _op("deactivate a user (admin)", _ref("User"), params=[NAME])},
        "/api/v1/users/{name}/keys": {
            "post": _op("a new API key (admin, or the user)", _ref("User"), params=[NAME],
                        status="201")},
    },
}
