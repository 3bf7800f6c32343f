"""Log lines: the query (filters, order, cursor), validation of ingested batches, formats.

Pure functions; :mod:`pylm.registry.store` runs the queries. Times are stored as naive UTC
and shown in ISO 8601 with ``+00:00``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pylm.registry import auth

__all__ = [
    "DEFAULT_LIMIT",
    "LEGACY_TIME_FORMAT",
    "MAX_LIMIT",
    "STREAMS",
    "LogInputError",
    "LogQuery",
    "LogRow",
    "decode_cursor",
    "encode_cursor",
    "format_line",
    "parse_time",
    "query_from_params",
    "validate_lines",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_LINE_CHARS = 64 * 1024
MAX_LABEL_CHARS = 200
STREAMS = ("stdout", "stderr", "event")
LEGACY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


class LogRow(NamedTuple):
    """A line to store, in the order of the table's columns (``time`` naive UTC)."""

    time: datetime
    node: str
    service: str
    instance: str
    stream: str
    source: str
    seq: int | None
    text: str


class LogInputError(ValueError):
    """A query or batch that is refused (400); the message is the short reason."""


@dataclass(frozen=True)
class LogQuery:
    service: str | None = None
    node: str | None = None
    instance: str | None = None
    stream: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    inclusive: bool = True
    text: str | None = None
    descending: bool = True
    limit: int | None = DEFAULT_LIMIT
    after_id: int | None = None


def parse_time(raw: str, name: str) -> datetime:
    """ISO 8601 to naive UTC; a time without zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(raw)  # Python 3.11 reads "Z" and most ISO forms
    except ValueError:
        value = None
    try:
        if value is None:
            value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise LogInputError(f"{name}: {raw[:40]!r} is not an ISO 8601 time") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def encode_cursor(secret: str, query: LogQuery, last_id: int) -> str:
    return auth.sign(secret, json.dumps({"id": last_id, "d": query.descending}))


def decode_cursor(secret: str, token: str) -> tuple[int, bool]:
    payload = auth.unsign(secret, token)
    try:
        data = json.loads(payload) if payload else None
        return int(data["id"]), bool(data["d"])
    except (TypeError, KeyError, ValueError):
        raise LogInputError("cursor: not a cursor from this registry") from None


def query_from_params(params: Mapping[str, str], secret: str) -> LogQuery:
    """Build a query from the URL parameters of ``GET .../logs`` (see runner-protocol.md)."""
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise LogInputError("order: must be asc or desc")
    try:
        limit = int(params.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise LogInputError("limit: not an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise LogInputError(f"limit: must be between 1 and {MAX_LIMIT}")
    query = LogQuery(
        service=params.get("service"), node=params.get("node"),
        instance=params.get("instance"), stream=params.get("stream"),
        since=parse_time(params["from"], "from") if "from" in params else None,
        until=parse_time(params["to"], "to") if "to" in params else None,
        text=params.get("q") or None, descending=order == "desc", limit=limit)
    if "cursor" in params:
        last_id, descending = decode_cursor(secret, params["cursor"])
        query = replace(query, after_id=last_id, descending=descending)
    return query


def _bad(index: int, field: str, what: str) -> LogInputError:
    return LogInputError(f"lines[{index}].{field}: {what}")


def _utc(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is None:
        return value
    return (value - offset).replace(tzinfo=None)


def validate_lines(body: Any, now: datetime) -> list[LogRow]:
    """Check a ``POST .../logs`` body and answer rows ready for the store.

    Written as one tight loop (this runs for every line the runners send); each refusal
    names the line and the field.
    """
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list):
        raise LogInputError("body: expected {\"source\": ..., \"lines\": [...]}")
    source = body.get("source", "")
    if not isinstance(source, str) or len(source) > 100:
        raise LogInputError("source: a string of at most 100 characters")
    labels = f"a string of at most {MAX_LABEL_CHARS} characters"
    rows: list[LogRow] = []
    append = rows.append
    fromisoformat = datetime.fromisoformat
    for index, line in enumerate(body["lines"]):
        if type(line) is not dict:
            raise LogInputError(f"lines[{index}]: expected an object")
        text = line.get("text")
        if type(text) is not str or len(text) > MAX_LINE_CHARS:
            raise _bad(index, "text", f"a string of at most {MAX_LINE_CHARS} characters")
        node = line.get("node", "")
        service = line.get("service", "")
        instance = line.get("instance", "")
        for name, value in (("node", node), ("service", service), ("instance", instance)):
            if type(value) is not str or len(value) > MAX_LABEL_CHARS:
                raise _bad(index, name, labels)
        stream = line.get("stream", "stdout")
        if type(stream) is not str or stream not in STREAMS:
            raise _bad(index, "stream", "one of " + ", ".join(STREAMS))
        seq = line.get("seq")
        if seq is not None and (type(seq) is not int or not 0 <= seq < 2**63):
            raise _bad(index, "seq", "a non-negative integer")
        raw_time = line.get("time")
        if raw_time is None:
            when = now
        elif type(raw_time) is str:
            try:  # runners send UTC: read it without building a zone-aware value
                if raw_time.endswith("+00:00"):
                    when = fromisoformat(raw_time[:-6])
                elif raw_time.endswith("Z"):
                    when = fromisoformat(raw_time[:-1])
                else:
                    when = fromisoformat(raw_time)
                if when.tzinfo is not None:
                    when = _utc(when)
            except ValueError:
                when = parse_time(raw_time, f"lines[{index}].time")
        else:
            raise _bad(index, "time", "an ISO 8601 string")
        append(LogRow(when, node, service, instance, stream, source, seq, text))
    return rows


def format_line(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored line as the JSON API shows it."""
    return {"id": row["id"], "time": row["time"].replace(tzinfo=UTC).isoformat(),
            "node": row["node"], "service": row["service"], "instance": row["instance"],
            "stream": row["stream"], "seq": row["seq"], "text": row["text"]}
