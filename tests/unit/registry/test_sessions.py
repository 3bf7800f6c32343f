"""Session cookies, CSRF tokens and the login throttle (pylm.registry.sessions)."""

from pylm.registry.sessions import SESSION_SECONDS, LoginThrottle, SessionBook


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_session_round_trip_and_tampering():
    book = SessionBook("secret")
    session = book.new("alice")
    token = book.encode(session)
    assert book.decode(token) == session
    assert book.decode(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert SessionBook("other secret").decode(token) is None
    assert book.decode("") is None and book.decode("x" * 2000) is None


def test_session_expires_and_revokes():
    clock = Clock()
    book = SessionBook("secret", clock=clock)
    session = book.new("alice")
    token = book.encode(session)
    clock.now += SESSION_SECONDS + 1
    assert book.decode(token) is None
    fresh = book.new("alice")
    book.revoke(fresh)
    assert book.decode(book.encode(fresh)) is None


def test_csrf_token_belongs_to_its_session():
    book = SessionBook("secret")
    one, two = book.new(None), book.new(None)
    assert book.csrf_ok(one, book.csrf_token(one))
    assert not book.csrf_ok(two, book.csrf_token(one))
    assert not book.csrf_ok(one, "") and not book.csrf_ok(one, None)
    assert not book.csrf_ok(None, book.csrf_token(one))


def test_cookie_flags():
    book = SessionBook("secret")
    plain = book.cookie(book.new("a"), secure=False)
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    assert plain.endswith("; Secure") is False
    assert book.cookie(book.new("a"), secure=True).endswith("; Secure")


def test_throttle_doubles_the_wait_after_free_failures_and_forgets_on_success():
    clock = Clock()
    throttle = LoginThrottle(clock=clock, free=3, base=1.0, cap=8.0)
    for _ in range(2):
        throttle.failed("alice", "1.2.3.4")
        assert throttle.wait("alice", "1.2.3.4") == 0
    throttle.failed("alice", "1.2.3.4")
    assert throttle.wait("alice", "1.2.3.4") == 1.0
    assert throttle.wait("ALICE", "1.2.3.4") == 1.0  # names are case-insensitive
    assert throttle.wait("alice", "5.6.7.8") == 0  # per address
    assert throttle.wait("bob", "1.2.3.4") == 0  # per user
    waits = []
    for _ in range(4):
        throttle.failed("alice", "1.2.3.4")
        waits.append(throttle.wait("alice", "1.2.3.4"))
    assert waits == [2.0, 4.0, 8.0, 8.0]
    clock.now += 8.0
    assert throttle.wait("alice", "1.2.3.4") == 0
    throttle.succeeded("alice", "1.2.3.4")
    throttle.failed("alice", "1.2.3.4")
    assert throttle.wait("alice", "1.2.3.4") == 0
