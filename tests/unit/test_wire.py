import pytest
from hypothesis import given
from hypothesis import strategies as st

from pylm.parts import wire


@given(st.lists(st.binary(max_size=300), max_size=50))
def test_pack_unpack_round_trip(items: list[bytes]) -> None:
    assert wire.unpack(wire.pack(items)) == items
    assert wire.unpack(wire.BATCH + wire.pack(items), 2) == items


@given(st.binary(max_size=200))
def test_unpack_of_garbage_raises_wire_error_or_splits(data: bytes) -> None:
    try:
        items = wire.unpack(data)
    except wire.WireError:
        return
    assert wire.pack(items) == data


def test_truncated_batch() -> None:
    packed = wire.pack([b"hello", b"world"])
    with pytest.raises(wire.WireError):
        wire.unpack(packed[:-1])


def test_worker_id_frames() -> None:
    frame = wire.with_id(wire.RESULTS, b"worker-1", b"body")
    ident, offset = wire.split_id(frame)
    assert ident == b"worker-1" and frame[offset:] == b"body"
    with pytest.raises(wire.WireError):
        wire.split_id(wire.RESULTS + b"\x00\x09abc")


def test_control_frames_can_never_be_palm_messages() -> None:
    for head in (wire.BATCH, wire.HELLO, wire.JOBS, wire.RESYNC, wire.RESULTS, wire.HEARTBEAT,
                 wire.BYE):
        assert head.startswith(b"\x00") and len(head) == 2
