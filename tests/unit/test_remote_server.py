"""pylm.remote.server: the WSGI application, called in-process."""

from __future__ import annotations

import io

import pytest

from pylm.message import PalmMessage
from pylm.remote.server import RequestHandler, WSGIApplication


class Handler(RequestHandler):
    max_body = 100

    def foo(self, payload: bytes) -> bytes:
        return payload + b"!"

    def wrong_type(self, payload: bytes) -> str:
        return "text"

    def broken(self, payload: bytes) -> bytes:
        raise ValueError("line one\nline two")


def call(method: str, body: bytes, length: str | None = None) -> tuple[str, dict, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "CONTENT_LENGTH": str(len(body)) if length is None else length,
        "wsgi.input": io.BytesIO(body),
    }
    seen: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    answer = b"".join(WSGIApplication(Handler)(environ, start_response))
    return seen["status"], seen["headers"], answer


def request(function: str, payload: bytes = b"x") -> bytes:
    return PalmMessage(function=function, payload=payload, stage=0).SerializeToString()


def test_answers_the_message_with_the_result() -> None:
    status, headers, body = call("POST", request("s.foo", b"hi"))
    assert status == "200 OK"
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Length"] == str(len(body))
    assert PalmMessage.FromString(body).payload == b"hi!"


def test_runs_the_current_step_of_a_multi_step_function() -> None:
    message = PalmMessage(function="a.x s.foo", stage=1, payload=b"p")
    status, _, body = call("POST", message.SerializeToString())
    assert status == "200 OK" and PalmMessage.FromString(body).payload == b"p!"


def test_only_post() -> None:
    status, headers, body = call("GET", b"")
    assert status.startswith("405") and headers["Allow"] == "POST"


def test_failures_are_short_text_without_traceback() -> None:
    status, headers, body = call("POST", request("s.broken"))
    assert status.startswith("500") and headers["Content-Type"] == "text/plain"
    assert body == b"broken raised ValueError: line one"
    status, _, body = call("POST", request("s.wrong_type"))
    assert status.startswith("500") and body == b"wrong_type returned str, not bytes"


@pytest.mark.parametrize(
    ("body", "length", "status"),
    [
        (b"\xff\xff", None, "400"),
        (request("nodot"), None, "400"),
        (request("s.missing"), None, "404"),
        (request("s.handle"), None, "404"),  # the framework's own methods are not functions
        (b"x" * 101, None, "413"),
        (b"", "-1", "400"),
        (b"", "ten", "400"),
    ],
)
def test_bad_requests(body: bytes, length: str | None, status: str) -> None:
    assert call("POST", body, length)[0].startswith(status)


def test_handler_must_be_a_request_handler() -> None:
    with pytest.raises(TypeError, match="not a RequestHandler"):
        WSGIApplication(object)  # type: ignore[arg-type]
