"""Whatever arrives on an inbound socket, the part logs and drops it or routes a valid message."""

import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylm.message import PalmMessage
from pylm.parts import wire
from pylm.parts.core import Outbound, Router
from pylm.parts.services import PullService


class Capture(Outbound):
    def __init__(self, name: str, listen_address: str, **kw) -> None:
        super().__init__(name, listen_address, **kw)
        self.got: list[PalmMessage] = []

    def send(self, message: PalmMessage, raw: bytes | None = None) -> None:
        self.got.append(message)


def make_router() -> tuple[PullService, Capture]:
    logger = logging.getLogger("fuzz")
    logger.disabled = True
    router = Router(logger=logger)
    pull = PullService("Pull", "inproc://unused", route="Capture", server="srv", logger=logger)
    capture = Capture("Capture", "", logger=logger)
    router.add(pull)
    router.add(capture)
    return pull, capture


def valid(function: str, payload: bytes) -> bytes:
    m = PalmMessage()
    m.function, m.payload = function, payload
    return m.SerializeToString()


frames = st.lists(
    st.one_of(
        st.binary(max_size=200),
        st.builds(lambda b: wire.BATCH + b, st.binary(max_size=200)),
        st.builds(valid, st.sampled_from(["srv.f", "other.f", "nodot", "srv.f srv.g", ""]),
                  st.binary(max_size=50)),
        st.builds(lambda items: wire.BATCH + wire.pack(items),
                  st.lists(st.builds(valid, st.just("srv.f"), st.binary(max_size=20)),
                           max_size=5)),
    ),
    min_size=1, max_size=3,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(frames)
def test_pull_service_never_raises_and_routes_only_its_own_calls(data: list[bytes]) -> None:
    pull, capture = make_router()
    pull.receive(data)
    for message in capture.got:
        assert message.function.split(" ")[message.stage].startswith("srv.")
