"""The machinery of the web interface's pages: templates, the visitor, checked forms.

Templates live in ``templates/`` and are rendered by one Jinja2 environment with
autoescape on and strict undefined names. Every page answer carries the strict
Content-Security-Policy below (no inline script or style). :func:`current_visitor` reads the
browser session of :mod:`.sessions` (or starts an anonymous one, whose cookie
:func:`render` sets); :func:`posted_form` answers the posted form only when it carries that
session's CSRF token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pylm.registry.sessions import COOKIE, CSRF_FIELD, Session, SessionBook
from pylm.registry.store import NotFound, Store, UserInfo

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MAX_CONFIG_BYTES",
    "MAX_FIELD",
    "MAX_PASSWORD",
    "Visitor",
    "api_url",
    "book",
    "cluster_url",
    "csrf_refused",
    "current_visitor",
    "is_secure",
    "not_found",
    "posted_form",
    "redirect",
    "render",
    "safe_next",
    "store_of",
    "text_field",
    "to_login",
]

HERE = Path(__file__).parent
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PAGE_HEADERS = {"content-security-policy": CONTENT_SECURITY_POLICY,
                "x-frame-options": "DENY", "referrer-policy": "same-origin"}
MAX_CONFIG_BYTES = 1024 * 1024
MAX_FIELD = 200
MAX_PASSWORD = 1024
ADDRESS = re.compile(r"tcp://[^\s'\"]+")

_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _shown_time(value: Any) -> str:
    """A naive-UTC datetime or an ISO string as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value[:26]
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _line_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def cluster_url(key: str, *rest: str) -> str:
    """The page of the cluster ``key`` (quoted: a key the user chose may hold any text)."""
    return "/".join(["/clusters", quote(key, safe=""), *rest])


def api_url(key: str, rest: str) -> str:
    return f"/api/v1/clusters/{quote(key, safe='')}/{rest}"


def _addresses(command: str) -> list[str]:
    return ADDRESS.findall(command)


_env.filters["when"] = _shown_time
_env.filters["addresses"] = _addresses
_env.filters["q"] = lambda value: quote(str(value), safe="")
_env.globals["cluster_url"] = cluster_url
_env.globals["api_url"] = api_url
_env.filters["linetime"] = _line_time


@dataclass(frozen=True)
class Visitor:
    session: Session
    user: UserInfo | None
    fresh: bool  # the session is new: its cookie must be set


def book(request: Request) -> SessionBook:
    return request.app.state.sessions


def store_of(request: Request) -> Store:
    return request.app.state.store


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def current_visitor(request: Request) -> Visitor:
    sessions = book(request)
    session = sessions.decode(request.cookies.get(COOKIE))
    if session is None:
        return Visitor(sessions.new(None), None, True)
    user = None
    if session.user is not None:
        try:
            user = await run_in_threadpool(store_of(request).get_user, session.user)
        except NotFound:
            user = None
        if user is not None and not user.active:
            user = None
    return Visitor(session, user, False)


def render(request: Request, visitor: Visitor, template: str, code: int = 200,
           **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(
        user=visitor.user, csrf_field=CSRF_FIELD,
        csrf=book(request).csrf_token(visitor.session), **context)
    response = HTMLResponse(html, status_code=code, headers=PAGE_HEADERS)
    if visitor.fresh:
        response.headers.append("set-cookie", book(request).cookie(visitor.session,
                                                                    is_secure(request)))
    return response


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect("/login?" + urlencode({"next": target}))


def not_found(request: Request, visitor: Visitor) -> HTMLResponse:
    return render(request, visitor, "error.html", 404, title="Not found",
                  message="There is no such page, or it is not yours.")


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no ``//host``) is a place to go after log-in."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or len(target) > 2000):
        return "/"
    return target


async def posted_form(request: Request, visitor: Visitor) -> FormData | None:
    """The posted form, or None when its CSRF token is missing or wrong."""
    form = await request.form(max_part_size=MAX_CONFIG_BYTES + 1)
    if not book(request).csrf_ok(visitor.session, form.get(CSRF_FIELD)):
        return None
    return form


def csrf_refused(request: Request, visitor: Visitor) -> HTMLResponse:
    return render(request, visitor, "error.html", 403, title="Form refused",
                  message="This form is missing its security token or it has expired. "
                          "Reload the page and try again.")


def text_field(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""
