"""The exceptions pylm raises. Every one derives from :class:`PalmError`."""

from __future__ import annotations

__all__ = [
    "PalmError",
    "MessageError",
    "RoutingError",
    "WrongServerError",
    "RemoteError",
    "ConfigurationError",
]


class PalmError(Exception):
    """Base class of every error pylm raises."""


class MessageError(PalmError):
    """Bytes that are not a valid PalmMessage, or a message that cannot be routed."""


class RoutingError(MessageError):
    """A message whose ``function`` does not name a step this component can run."""


class WrongServerError(PalmError, ValueError):
    """A client or worker reached a server whose cache answers another name."""


class ConfigurationError(PalmError, ValueError):
    """A component was built with arguments that cannot work (bad address, bad route...)."""


class RemoteError(PalmError):
    """A step failed on the server side.

    ``eval`` raises it; ``job`` yields it in place of the result so that the rest of the job
    goes on. ``function`` is the step that failed, ``reason`` the one-line reason the server
    gave, and ``index`` the position (0-based) of the failed message in the job.
    """

    def __init__(self, function: str, reason: str, index: int | None = None) -> None:
        self.function = function
        self.reason = reason
        self.index = index
        where = f" (message {index})" if index is not None else ""
        super().__init__(f"{function} failed{where}: {reason}")
