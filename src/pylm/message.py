"""The PALM wire message and the few rules every component applies to it.

``PalmMessage`` is generated from ``proto/palm.proto`` (fields 1-6 are the contract with
every existing PALM component; 7 and 8 are this implementation's extensions, ignored by
older components). This module adds decoding with a clear error, and the rules for reading
the current step of a (possibly multi-step) ``function``.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from pylm.errors import MessageError, RoutingError
from pylm.proto.palm_pb2 import PalmMessage

__all__ = ["PalmMessage", "decode", "current_step", "error_reply", "describe"]


def decode(data: bytes) -> PalmMessage:
    """Parse ``data`` into a PalmMessage, raising :class:`MessageError` when it is not one."""
    message = PalmMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise MessageError(f"not a PalmMessage ({len(data)} bytes): {exc}") from None
    return message


def current_step(message: PalmMessage) -> tuple[str, str]:
    """Return ``(server, method)`` of the step the message is at.

    ``function`` is ``server.method`` or several of them separated by single spaces; the
    step is chosen by ``stage``.
    """
    steps = message.function.split(" ")
    if not 0 <= message.stage < len(steps):
        raise RoutingError(
            f"stage {message.stage} is out of range for function {message.function!r}"
        )
    server, dot, method = steps[message.stage].partition(".")
    if not dot or not server or not method or "." in method:
        raise RoutingError(f"function {steps[message.stage]!r} is not of the form server.method")
    return server, method


def error_reply(message: PalmMessage, reason: str) -> PalmMessage:
    """A copy of ``message`` that tells its client the step failed (payload emptied)."""
    reply = PalmMessage()
    reply.CopyFrom(message)
    reply.payload = b""
    reply.error = reason.splitlines()[0][:500] if reason else "failed"
    return reply


def describe(message: PalmMessage) -> str:
    """A short description of a message for log lines (never the payload itself)."""
    return (
        f"function={message.function!r} stage={message.stage} client={message.client!r} "
        f"payload={len(message.payload)} bytes"
    )
