import logging

from pylm.components.execution import execute, user_functions
from pylm.message import PalmMessage
from pylm.servers import Server

log = logging.getLogger("test")


class Mine(Server):
    def shout(self, payload: bytes) -> bytes:
        return payload.upper()

    def broken(self, payload: bytes) -> bytes:
        raise KeyError("nope")

    def text(self, payload: bytes) -> str:  # type: ignore[override]
        return "not bytes"

    def handle_stream(self, message):  # a hook, not a function a message may call
        return super().handle_stream(message)

    def _private(self, payload: bytes) -> bytes:
        return payload


def message(function: str, payload: bytes = b"x") -> PalmMessage:
    m = PalmMessage()
    m.function, m.payload, m.client = function, payload, "c"
    return m


def functions() -> dict:
    server = Mine.__new__(Mine)
    return user_functions(server, Server)


def test_only_user_functions_are_callable() -> None:
    names = set(functions())
    assert {"shout", "broken", "text", "echo"} <= names
    assert not names & {"handle_stream", "_private", "start", "set", "register_inbound"}


def run(function: str) -> list:
    return list(execute(functions(), "srv", message(function), log))


def test_results_and_failures() -> None:
    (result, failed), = run("srv.shout")
    assert result.payload == b"X" and not failed
    (result, failed), = run("srv.broken")
    assert failed and "KeyError" in result.error and result.payload == b""
    (result, failed), = run("srv.text")
    assert failed and "not bytes" in result.error
    (result, failed), = run("srv.nosuch")
    assert failed and "not a function" in result.error
    (result, failed), = run("other.shout")
    assert failed and "'other' was called" in result.error


def test_an_earlier_failure_passes_through() -> None:
    m = message("srv.shout")
    m.error = "earlier step failed"
    (result, failed), = execute(functions(), "srv", m, log)
    assert result.error == "earlier step failed" and not failed
