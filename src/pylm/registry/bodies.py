"""Reading JSON request bodies: each refusal is a 400 naming the field."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from starlette.requests import Request

from pylm.registry.errors import HttpError

__all__ = ["iso_time", "json_body", "json_object", "optional_int", "string_field"]


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HttpError(400, "body: not JSON") from None


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HttpError(400, "body: expected a JSON object")
    return body


def string_field(body: dict[str, Any], name: str, *, limit: int, required: bool = True,
            default: str = "") -> str:
    value = body.get(name, None if required else default)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise HttpError(400, f"{name}: a non-empty string of at most {limit} characters"
                        if required else f"{name}: a string of at most {limit} characters")
    return value


def optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -2**31 <= value < 2**31:
        raise HttpError(400, f"{name}: an integer or null")
    return value


def iso_time(value: Any) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value is not None else None
