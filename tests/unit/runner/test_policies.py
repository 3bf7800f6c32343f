import pytest

from pylm.runner.events import Event, EventKind, InstanceState, RestartPolicy
from pylm.runner.supervisor import BackoffPolicy, describe_exit


def test_backoff_grows_to_its_cap():
    policy = BackoffPolicy(initial=1.0, factor=2.0, maximum=10.0, jitter=0.0)
    assert [policy.delay(n, 0.5) for n in range(0, 7)] == [1, 1, 2, 4, 8, 10, 10]


def test_jitter_spreads_but_never_passes_the_cap():
    policy = BackoffPolicy(initial=1.0, maximum=4.0, jitter=0.2)
    assert policy.delay(1, 0.0) == pytest.approx(0.8)
    assert policy.delay(1, 0.999) == pytest.approx(1.2, abs=1e-3)
    assert policy.delay(10, 0.999) == 4.0


def test_growing_delays_stay_growing_with_jitter():
    policy = BackoffPolicy(initial=0.2, factor=2.0, maximum=60.0, jitter=0.1)
    worst = [policy.delay(n, 0.999) for n in range(1, 6)]
    best = [policy.delay(n, 0.0) for n in range(2, 7)]
    assert all(low > high for low, high in zip(best, worst, strict=True))


@pytest.mark.parametrize("kwargs", [{"initial": -1}, {"factor": 0.5}, {"jitter": 1.0},
                                    {"crashloop_after": 0}, {"initial": 5, "maximum": 1}])
def test_bad_backoff_is_refused(kwargs):
    with pytest.raises(ValueError):
        BackoffPolicy(**kwargs)


def test_restart_policies():
    assert RestartPolicy.parse(None) is RestartPolicy.ALWAYS
    assert RestartPolicy.parse(" On-Failure ") is RestartPolicy.ON_FAILURE
    with pytest.raises(ValueError, match="sometimes"):
        RestartPolicy.parse("sometimes")
    assert RestartPolicy.ALWAYS.restarts_after(0)
    assert RestartPolicy.ON_FAILURE.restarts_after(3)
    assert not RestartPolicy.ON_FAILURE.restarts_after(0)
    assert not RestartPolicy.NEVER.restarts_after(-9)


def test_terminal_states():
    assert {s for s in InstanceState if s.terminal} == {
        InstanceState.EXITED, InstanceState.FAILED, InstanceState.STOPPED}


def test_event_wire_form():
    event = Event(EventKind.EXIT, "W.0", 0.5, pid=7, status=None, signal=9, detail="killed")
    assert event.to_json("node-a") == {
        "node": "node-a", "instance": "W.0", "kind": "exit",
        "time": "1970-01-01T00:00:00.500000+00:00", "pid": 7, "status": None, "signal": 9,
        "detail": "killed"}


def test_describe_exit():
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(-9) == "killed by SIGKILL"
