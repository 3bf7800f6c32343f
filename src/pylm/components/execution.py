"""Running the user's function named by a message's current step.

Shared by the single-process :class:`~pylm.servers.Server`, the workers and the pipelines.
Only *user functions* can be called: public methods defined by the user's subclass (plus
``echo``), never the framework's own methods, so a message cannot call ``start`` or
``set`` on a server.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator

from pylm.errors import RoutingError
from pylm.message import PalmMessage, current_step, describe, error_reply
from pylm.parts.core import Outbound

__all__ = [
    "user_functions", "execute", "call_in_place", "StepExecution", "Outcome", "NOT_A_FUNCTION",
]

#: The end of the error reason given for a call to a function the server does not have
#: (the HTTP gateway answers such calls with 404).
NOT_A_FUNCTION = "is not a function of this server"

#: (result message or None, failed) — a result of None means "nothing to send".
Outcome = tuple[PalmMessage | None, bool]


def user_functions(obj: object, framework: type) -> dict[str, object]:
    """The callables a message may name on ``obj``: public methods of its user subclasses.

    Methods the framework class itself has (hooks such as ``handle_stream``, ``start``, the
    cache calls) are never callable by a message, even when the subclass overrides them.
    """
    functions: dict[str, object] = {}
    for cls in type(obj).__mro__:
        if cls is framework or cls is object or issubclass(framework, cls):
            break
        for attr, value in vars(cls).items():
            if attr.startswith("_") or attr in functions or hasattr(framework, attr):
                continue
            if inspect.isfunction(value) or isinstance(value, staticmethod | classmethod):
                functions[attr] = getattr(obj, attr)
    if hasattr(obj, "echo"):
        functions.setdefault("echo", obj.echo)
    return functions


def _failure(logger: logging.Logger, message: PalmMessage, reason: str) -> PalmMessage:
    logger.error("%s (%s)", reason, describe(message))
    return error_reply(message, reason)


def execute(
    functions: dict[str, object],
    server: str,
    message: PalmMessage,
    logger: logging.Logger,
    *,
    many: bool = False,
) -> Iterator[Outcome]:
    """Run the step ``message`` is at; yield its result message(s).

    The result is ``message`` with the returned payload. A function that raises is logged
    with its traceback and yields an error reply (``failed`` True). With ``many`` the
    function is a generator and each yielded payload is one result; a plain function
    returning ``None`` yields ``(None, False)`` (nothing to send on).
    """
    if message.error:
        yield message, False  # an earlier step failed: pass the failure on untouched
        return
    try:
        target, method = current_step(message)
    except RoutingError as exc:
        yield _failure(logger, message, str(exc)), True
        return
    if target != server and server:
        yield _failure(logger, message, f"{target!r} was called, but this is {server!r}"), True
        return
    function = functions.get(method)
    if function is None:
        yield _failure(logger, message, f"{server}.{method} {NOT_A_FUNCTION}"), True
        return
    try:
        if many:
            for payload in function(message.payload):  # type: ignore[operator]
                yield _with_payload(message, payload, method), False
            return
        payload = function(message.payload)  # type: ignore[operator]
        result = None if payload is None else _with_payload(message, payload, method)
    except Exception as exc:
        logger.exception("User function %s gave an error", method)
        yield error_reply(message, f"{method} raised {type(exc).__name__}: {exc}"), True
        return
    yield result, False


def call_in_place(
    functions: dict[str, object], server: str, message: PalmMessage, logger: logging.Logger
) -> PalmMessage | None:
    """Run the step ``message`` is at, putting the result into ``message`` itself.

    The hot path of every step that yields one result (servers, workers, pipelines): no
    copy, no generator. Returns the message to send on, an error reply when the step failed,
    or None when the function returned None. Everything unusual (an earlier failure, a bad
    step, another server's name, an unknown function) goes through :func:`execute`.
    """
    function = None
    method = ""
    if not message.error:
        steps = message.function.split(" ")
        if 0 <= message.stage < len(steps):
            target, _, method = steps[message.stage].partition(".")
            if target == server or (not server and target):
                function = functions.get(method)
    if function is None:
        for result, _failed in execute(functions, server, message, logger):
            return result
        return None
    try:
        payload = function(message.payload)  # type: ignore[operator]
        if payload is not None and not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError(f"{method} returned {type(payload).__name__}, not bytes")
    except Exception as exc:
        logger.exception("User function %s gave an error", method)
        return error_reply(message, f"{method} raised {type(exc).__name__}: {exc}")
    if payload is None:
        return None
    message.payload = bytes(payload)
    return message


def _with_payload(message: PalmMessage, payload: object, method: str) -> PalmMessage:
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise TypeError(f"{method} returned {type(payload).__name__}, not bytes")
    result = PalmMessage()
    result.CopyFrom(message)
    result.payload = bytes(payload)
    return result


class StepExecution(Outbound):
    """Runs the step a message is at, in place, and passes the result on to ``route``.

    The common case (this server's step, a function that returns bytes) is handled here
    without copying the message; everything else (errors, other servers' steps, unknown
    functions) goes through :func:`~pylm.components.execution.execute`, which reports it.
    """

    def __init__(self, name: str, listen_address: str, *, functions: dict[str, object],
                 server: str, **kw: object) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.functions = functions
        self.server = server

    def send(self, message: PalmMessage, raw: bytes | None = None) -> None:
        result = call_in_place(self.functions, self.server, message, self.logger)
        if result is not None:
            self.pass_on(result)
        self.count()
