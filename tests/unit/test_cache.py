import uuid

import pytest

from pylm.cache import Cache, CacheRequestError, answer
from pylm.message import PalmMessage


def request(function: str, payload: bytes = b"", key: str = "") -> bytes:
    message = PalmMessage()
    message.function, message.payload, message.cache = function, payload, key
    return message.SerializeToString()


def test_set_get_delete() -> None:
    cache = Cache()
    assert answer(cache, request("srv.set", b"v", "k"), "srv") == b"k"
    assert answer(cache, request("srv.get", b"k"), "srv") == b"v"
    assert answer(cache, request("srv.delete", b"k"), "srv") == b"k"
    assert answer(cache, request("srv.get", b"k"), "srv") == b""


def test_set_without_key_generates_a_uuid4() -> None:
    cache = Cache()
    key = answer(cache, request("_.set", b"v"), "srv").decode()
    assert uuid.UUID(key).version == 4
    assert cache[key] == b"v"


@pytest.mark.parametrize("data", [
    b"\xff\xfe garbage",
    request("other.get", b"k"),
    request("srv.pop", b"k"),
    request("nodot", b"k"),
    request("srv.get", b"\xff\xfe"),
])
def test_bad_requests_are_refused(data: bytes) -> None:
    with pytest.raises(CacheRequestError):
        answer(Cache(), data, "srv")


def test_values_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        Cache()["k"] = "text"  # type: ignore[assignment]
