from pylm.parts.subscriptions import Subscriptions


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_messages_wait_for_their_subscriber() -> None:
    subs = Subscriptions()
    assert not subs.matches(b"client-1")
    assert subs.hold_message(b"client-1", [b"client-1", b"m1"]) is None
    subs.hold_message(b"client-1", [b"client-1", b"m2"])
    subs.hold_message(b"client-2", [b"client-2", b"x"])
    released = subs.update(b"\x01client-1")
    assert released == [[b"client-1", b"m1"], [b"client-1", b"m2"]]
    assert subs.matches(b"client-1") and subs.held_count == 1


def test_prefix_subscriptions_and_unsubscribe() -> None:
    subs = Subscriptions()
    subs.update(b"\x01srv")
    assert subs.matches(b"srv") and subs.matches(b"srv-and-more") and not subs.matches(b"sr")
    subs.update(b"\x00srv")
    assert not subs.matches(b"srv")
    subs.update(b"\x01")  # the empty prefix matches everything
    assert subs.matches(b"anything")


def test_garbage_subscription_frames_are_ignored() -> None:
    subs = Subscriptions()
    assert subs.update(b"") == [] and subs.update(b"\x07junk") == []
    assert not subs.topics


def test_expiry_and_bound() -> None:
    clock = Clock()
    subs = Subscriptions(hold=5, max_held=2, clock=clock)
    subs.hold_message(b"a", [b"a", b"1"])
    clock.now = 1
    subs.hold_message(b"b", [b"b", b"2"])
    dropped = subs.hold_message(b"c", [b"c", b"3"])
    assert dropped == [b"a", b"1"]  # the oldest makes room
    clock.now = 2
    subs.hold_message(b"d", [b"d", b"4"])  # makes room by dropping b
    clock.now = 6.5  # c (held at 1) is past its 5 s; d (held at 2) is not
    assert subs.expire() == {b"c": 1}
    assert subs.held_count == 1
