import pytest
from hypothesis import given
from hypothesis import strategies as st

from pylm.errors import MessageError, RoutingError
from pylm.message import PalmMessage, current_step, decode, error_reply


def make(function: str, stage: int = 0, payload: bytes = b"p") -> PalmMessage:
    message = PalmMessage()
    message.function, message.stage, message.payload = function, stage, payload
    return message


def test_field_numbers_are_the_palm_contract() -> None:
    fields = {f.name: f.number for f in PalmMessage.DESCRIPTOR.fields}
    assert {k: fields[k] for k in ("pipeline", "client", "stage", "function", "cache",
                                   "payload")} == {
        "pipeline": 1, "client": 2, "stage": 3, "function": 4, "cache": 5, "payload": 6}
    assert all(number > 6 for name, number in fields.items()
               if name not in ("pipeline", "client", "stage", "function", "cache", "payload"))


def test_upb_backend_is_used() -> None:
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() == "upb"


def test_current_step_of_single_and_multi_step_functions() -> None:
    assert current_step(make("srv.f")) == ("srv", "f")
    assert current_step(make("a.f b.g c.h", stage=1)) == ("b", "g")
    assert current_step(make("a.f b.g c.h", stage=2)) == ("c", "h")


@pytest.mark.parametrize("function,stage", [
    ("nodot", 0), (".f", 0), ("srv.", 0), ("a.b.c", 0), ("a.f b.g", 2), ("a.f", -1), ("", 0),
])
def test_bad_steps_are_routing_errors(function: str, stage: int) -> None:
    with pytest.raises(RoutingError):
        current_step(make(function, stage))


def test_decode_round_trip_and_garbage() -> None:
    message = make("srv.f", payload=b"\x00\xff" * 10)
    assert decode(message.SerializeToString()) == message
    with pytest.raises(MessageError):
        decode(b"\xff\xff\xff\xff")
    with pytest.raises(MessageError):
        decode(message.SerializeToString()[:-3])  # truncated


@given(st.binary(max_size=512))
def test_decode_never_raises_anything_but_message_error(data: bytes) -> None:
    try:
        message = decode(data)
    except MessageError:
        return
    assert isinstance(message, PalmMessage)


def test_error_reply_keeps_routing_and_drops_payload() -> None:
    message = make("srv.f", payload=b"secret")
    message.client = "c1"
    reply = error_reply(message, "boom\nsecond line")
    assert reply.error == "boom" and reply.payload == b"" and reply.client == "c1"
    assert message.payload == b"secret"  # the original is untouched
