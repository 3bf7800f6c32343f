"""Pipeline, Sink and Hub: construction, configuration errors and callable functions."""

from __future__ import annotations

import pytest

from pylm.components.execution import user_functions
from pylm.errors import ConfigurationError
from pylm.servers import Hub, Pipeline, Sink

ANY = "tcp://127.0.0.1:*"


class Step(Pipeline):
    def work(self, payload: bytes) -> bytes:
        return payload


class Join(Sink):
    def work(self, payload: bytes) -> bytes:
        return payload


def test_pipeline_parts_and_cache() -> None:
    step = Step("step", ANY, "tcp://127.0.0.1:5999", ANY, "previous", to_client=False)
    assert step.pipelined
    sub = step.inbound_components["Sub"]
    assert sub.route == "Execution" and sub.previous == "previous"  # type: ignore[attr-defined]
    assert step.cache["sub_address"] == b"tcp://127.0.0.1:5999"
    assert step.cache["name"] == b"step"
    assert set(step._functions) == {"work", "echo"}
    assert "handle_stream" not in user_functions(step, Pipeline)


def test_sink_zips_addresses_and_previous() -> None:
    join = Join("join", ANY, ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"], ANY, ["a", "b"])
    subs = [join.inbound_components[name] for name in ("Sub0", "Sub1")]
    assert [(s.listen_address, s.previous) for s in subs] == [  # type: ignore[attr-defined]
        ("tcp://127.0.0.1:1", "a"), ("tcp://127.0.0.1:2", "b"),
    ]
    assert join.cache["sub_address_1"] == b"tcp://127.0.0.1:2"


@pytest.mark.parametrize(
    ("subs", "previous", "message"),
    [
        (["tcp://127.0.0.1:1"], ["a", "b"], "1 sub_addresses but 2 previous"),
        ("tcp://127.0.0.1:1", ["a"], "sub_addresses must be a list"),
        (["tcp://127.0.0.1:1"], "a", "previous must be a list"),
        ([], [], "needs an upstream server"),
        ([1], ["a"], "upstream #0 must be an address"),
    ],
)
def test_sink_configuration_errors(subs: object, previous: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Join("join", ANY, subs, ANY, previous)  # type: ignore[arg-type]


def test_hub_routes_its_subscription_to_the_workers() -> None:
    hub = Hub("hub", "tcp://127.0.0.1:1", ANY, ANY, ANY, ANY, previous="server")
    sub = hub.inbound_components["Sub"]
    assert sub.route == "WorkerPush" and sub.previous == "server"  # type: ignore[attr-defined]
    assert hub.cache["sub_address"] == b"tcp://127.0.0.1:1"
    assert hub.outbound_components["Pub"].handle_stream == hub.handle_stream  # type: ignore[attr-defined]
