"""Browser sessions of the web interface: the signed cookie, CSRF tokens, login throttling.

The session cookie is stateless: ``{sid, user name, expiry}`` signed with the registry's
secret (HMAC-SHA256, :func:`pylm.registry.auth.sign`). Each request re-reads the user, so a
deactivated user is out at once. Logging out revokes the session id in this process (the
registry serves from one process) and clears the cookie.

The CSRF token of a form is an HMAC of the session id: a page gets a session (anonymous
before log-in) the first time it is served, and every POST must carry the token of the
session its cookie names. Logging in starts a new session id (no session fixation).

:class:`LoginThrottle` slows repeated failures per (user name, client address): after
``FREE_FAILURES`` failures each attempt must wait twice as long as the previous one
(capped at ``MAX_WAIT`` seconds); a success clears the record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pylm.registry import auth
from pylm.registry.store import NotFound, UserInfo

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "LoginThrottle",
    "Session",
    "SessionBook",
    "cookie_user",
]

COOKIE = "pylm_session"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 12 * 3600
FREE_FAILURES = 3
BASE_WAIT = 1.0
MAX_WAIT = 60.0
MAX_TRACKED = 10_000


@dataclass(frozen=True)
class Session:
    sid: str
    user: str | None
    expires: float

    @property
    def anonymous(self) -> bool:
        return self.user is None


class LoginThrottle:
    """Failure counts per (name, address), with the time before which attempts are refused."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 free: int = FREE_FAILURES, base: float = BASE_WAIT, cap: float = MAX_WAIT):
        self.clock = clock
        self.free = free
        self.base = base
        self.cap = cap
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def wait(self, name: str, address: str) -> float:
        """Seconds to wait before this pair may try again (0: now)."""
        entry = self._failures.get((name.lower(), address))
        if entry is None:
            return 0.0
        return max(0.0, entry[1] - self.clock())

    def failed(self, name: str, address: str) -> None:
        key = (name.lower(), address)
        count = self._failures.pop(key, (0, 0.0))[0] + 1
        delay = 0.0 if count < self.free else min(self.cap,
                                                   self.base * 2 ** (count - self.free))
        self._failures[key] = (count, self.clock() + delay)
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)

    def succeeded(self, name: str, address: str) -> None:
        self._failures.pop((name.lower(), address), None)


class SessionBook:
    """Makes, reads and revokes session cookies; one per application."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time):
        # A key of its own, so a log cursor can never pass for a session.
        self._key = hmac.new(secret.encode(), b"pylm web session", hashlib.sha256).hexdigest()
        self.clock = clock
        self._revoked: dict[str, float] = {}
        self.throttle = LoginThrottle()

    def new(self, user: str | None) -> Session:
        return Session(secrets.token_urlsafe(24), user, float(int(self.clock() + SESSION_SECONDS)))

    def encode(self, session: Session) -> str:
        payload = json.dumps({"s": session.sid, "u": session.user, "e": int(session.expires)})
        return auth.sign(self._key, payload)

    def decode(self, token: str | None) -> Session | None:
        if not token or len(token) > 1000:
            return None
        payload = auth.unsign(self._key, token)
        try:
            data = json.loads(payload) if payload else None
            session = Session(str(data["s"]), data["u"], float(data["e"]))
        except (TypeError, KeyError, ValueError):
            return None
        if session.user is not None and not isinstance(session.user, str):
            return None
        if session.expires < self.clock() or session.sid in self._revoked:
            return None
        return session

    def revoke(self, session: Session) -> None:
        now = self.clock()
        self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp >= now}
        self._revoked[session.sid] = session.expires

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._key.encode(), b"csrf:" + session.sid.encode(),
                        hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session | None, given: object) -> bool:
        if session is None or not isinstance(given, str) or not given:
            return False
        return hmac.compare_digest(self.csrf_token(session).encode(), given.encode())

    def cookie(self, session: Session, secure: bool) -> str:
        """The ``Set-Cookie`` value: HttpOnly, SameSite=Lax, Secure over HTTPS."""
        value = (f"{COOKIE}={self.encode(session)}; Path=/; HttpOnly; SameSite=Lax; "
                 f"Max-Age={SESSION_SECONDS}")
        return value + ("; Secure" if secure else "")

    @staticmethod
    def clearing_cookie(secure: bool) -> str:
        return f"{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0" + (
            "; Secure" if secure else "")


def book(request: Request) -> SessionBook | None:
    return getattr(request.app.state, "sessions", None)


async def cookie_user(request: Request) -> UserInfo | None:
    """The active user of the request's session cookie, or None."""
    sessions = book(request)
    if sessions is None:
        return None
    session = sessions.decode(request.cookies.get(COOKIE))
    if session is None or session.user is None:
        return None
    try:
        user = await run_in_threadpool(request.app.state.store.get_user, session.user)
    except NotFound:
        return None
    return user if user.active else None
