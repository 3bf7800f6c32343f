"""Reading logs over the JSON API: pages with a cursor, and a live follow (SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from pylm.registry.access import cluster_for, store_of
from pylm.registry.errors import HttpError
from pylm.registry.logs import (
    LogInputError,
    LogQuery,
    encode_cursor,
    format_line,
    query_from_params,
)

__all__ = ["follow_logs", "read_logs"]


KEEPALIVE_SECONDS = 15.0
FOLLOW_BATCH = 500


def _query(request: Request) -> LogQuery:
    try:
        return query_from_params(request.query_params, store_of(request).secret)
    except LogInputError as exc:
        raise HttpError(400, str(exc)) from None


async def read_logs(request: Request) -> Response:
    cluster = await cluster_for(request)
    query = _query(request)
    rows = await run_in_threadpool(store_of(request).query_logs, cluster.id, query)
    cursor = None
    if query.limit is not None and len(rows) == query.limit:
        cursor = encode_cursor(store_of(request).secret, query, rows[-1]["id"])
    return JSONResponse({"lines": [format_line(r) for r in rows], "next_cursor": cursor})


async def follow_logs(request: Request) -> Response:
    cluster = await cluster_for(request)
    base = _query(request)
    store = store_of(request)
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
