"""Counting subscribers and deciding when a topic may be published in batches."""

from __future__ import annotations

from pylm.parts.subscriptions import BATCH_READER, Subscriptions


def sub(topic: bytes) -> bytes:
    return b"\x01" + topic


def unsub(topic: bytes) -> bytes:
    return b"\x00" + topic


def test_a_topic_is_batchable_when_every_subscriber_reads_batches() -> None:
    subs = Subscriptions()
    assert not subs.batchable(b"src")
    subs.update(sub(b"src"))
    assert not subs.batchable(b"src")  # a plain (pylm 0.14) subscriber
    subs.update(sub(BATCH_READER + b"src"))
    assert subs.batchable(b"src")
    subs.update(sub(b"src"))  # a second subscriber, plain
    assert not subs.batchable(b"src")
    subs.update(unsub(b"src"))
    assert subs.batchable(b"src")


def test_a_shorter_prefix_subscriber_prevents_batches() -> None:
    subs = Subscriptions()
    for frame in (sub(b"src"), sub(BATCH_READER + b"src"), sub(b"")):
        subs.update(frame)
    assert not subs.batchable(b"src")
    subs.update(unsub(b""))
    assert subs.batchable(b"src")


def test_counted_subscriptions_keep_a_topic_until_its_last_subscriber_leaves() -> None:
    subs = Subscriptions()
    subs.update(sub(b"t"))
    subs.update(sub(b"t"))
    subs.update(unsub(b"t"))
    assert subs.matches(b"t")
    subs.update(unsub(b"t"))
    assert not subs.matches(b"t")
    subs.update(unsub(b"t"))  # a stray unsubscribe changes nothing
    assert not subs.matches(b"t") and b"t" not in subs.topics


def test_held_messages_are_released_by_the_first_subscriber() -> None:
    subs = Subscriptions()
    subs.hold_message(b"client", [b"client", b"data"])
    assert subs.update(sub(b"client")) == [[b"client", b"data"]]
    assert subs.update(sub(b"client")) == []
