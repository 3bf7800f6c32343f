"""Errors that become HTTP answers: a status and a short reason, never a stack trace."""

from __future__ import annotations

__all__ = ["BodyTooLarge", "HttpError"]


class HttpError(Exception):
    """Answer ``status`` with ``reason`` (JSON ``{"error": reason}`` under /api, text elsewhere)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class BodyTooLarge(HttpError):
    def __init__(self, limit: int):
        super().__init__(413, f"request body larger than {limit} bytes")
