"""The web interface (spec §8): pages rendered from ``templates/``, assets from ``static/``.

Every page goes through :func:`_visitor`, which reads (or starts) the browser session of
:mod:`.sessions`; every POST checks that session's CSRF token first (403 without it). A
cluster page of a cluster the user does not own answers 404, like one that does not exist.
Templates autoescape everything; the scripts in ``static/`` insert untrusted text with
``textContent`` only, and the Content-Security-Policy allows no inline script.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pylm.registry.api import status_json
from pylm.registry.config import ConfigError
from pylm.registry.logs import (
    DEFAULT_LIMIT,
    STREAMS,
    LogInputError,
    LogQuery,
    encode_cursor,
    query_from_params,
)
from pylm.registry.sessions import COOKIE, CSRF_FIELD, Session, SessionBook
from pylm.registry.store import ClusterInfo, Conflict, NotFound, Store, UserInfo

__all__ = ["CONTENT_SECURITY_POLICY", "install", "routes"]

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
LOG_FILTERS = ("service", "node", "instance", "stream", "from", "to", "q")

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


def _book(request: Request) -> SessionBook:
    return request.app.state.sessions


def _store(request: Request) -> Store:
    return request.app.state.store


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _visitor(request: Request) -> Visitor:
    book = _book(request)
    session = book.decode(request.cookies.get(COOKIE))
    if session is None:
        return Visitor(book.new(None), None, True)
    user = None
    if session.user is not None:
        try:
            user = await run_in_threadpool(_store(request).get_user, session.user)
        except NotFound:
            user = None
        if user is not None and not user.active:
            user = None
    return Visitor(session, user, False)


def _render(request: Request, visitor: Visitor, template: str, code: int = 200,
            **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(
        user=visitor.user, csrf_field=CSRF_FIELD,
        csrf=_book(request).csrf_token(visitor.session), **context)
    response = HTMLResponse(html, status_code=code, headers=PAGE_HEADERS)
    if visitor.fresh:
        response.headers.append("set-cookie", _book(request).cookie(visitor.session,
                                                                    _secure(request)))
    return response


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _redirect("/login?" + urlencode({"next": target}))


def _not_found(request: Request, visitor: Visitor) -> HTMLResponse:
    return _render(request, visitor, "error.html", 404, title="Not found",
                   message="There is no such page, or it is not yours.")


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no ``//host``) is a place to go after log-in."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or len(target) > 2000):
        return "/"
    return target


async def _form(request: Request, visitor: Visitor) -> FormData | None:
    """The posted form, or None when its CSRF token is missing or wrong."""
    form = await request.form(max_part_size=MAX_CONFIG_BYTES + 1)
    if not _book(request).csrf_ok(visitor.session, form.get(CSRF_FIELD)):
        return None
    return form


def _csrf_refused(request: Request, visitor: Visitor) -> HTMLResponse:
    return _render(request, visitor, "error.html", 403, title="Form refused",
                   message="This form is missing its security token or it has expired. "
                           "Reload the page and try again.")


def _text(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


async def _owned_cluster(request: Request, visitor: Visitor) -> ClusterInfo | None:
    assert visitor.user is not None  # callers check the log-in first
    cluster = await run_in_threadpool(_store(request).get_cluster,
                                      request.path_params["cluster"])
    if cluster is None or cluster.owner_id != visitor.user.id:
        return None
    return cluster


async def _status(request: Request, cluster: ClusterInfo) -> dict[str, Any]:
    store = _store(request)
    node_rows = await run_in_threadpool(store.node_rows, cluster.id)
    state_rows = await run_in_threadpool(store.state_rows, cluster.id)
    return status_json(cluster, node_rows, state_rows, request.app.state.settings.lost_seconds)


def _readiness(status: dict[str, Any]) -> tuple[int, int]:
    services = status["services"].values()
    return (sum(min(s["placed"], s["needed"]) for s in services),
            sum(s["needed"] for s in services))


def runner_command(request: Request, cluster: ClusterInfo) -> str:
    """The exact command that joins a machine to ``cluster``."""
    base = str(request.base_url).rstrip("/")
    command = f"pylm-runner --registry {shlex.quote(base)} --cluster {shlex.quote(cluster.key)}"
    return command if cluster.key_generated else command + " --key YOUR_API_KEY"


# -- log in and out ---------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    visitor = await _visitor(request)
    if visitor.user is not None:
        return _redirect(_safe_next(request.query_params.get("next")))
    return _render(request, visitor, "login.html", next=request.query_params.get("next", ""),
                   error=None, name="")


async def login(request: Request) -> Response:
    visitor = await _visitor(request)
    form = await _form(request, visitor)
    if form is None:
        return _csrf_refused(request, visitor)
    name, password = _text(form, "name"), _text(form, "password", MAX_PASSWORD)
    target = _text(form, "next", 2000)
    address = request.client.host if request.client else ""
    throttle = _book(request).throttle
    wait = throttle.wait(name, address)
    if wait > 0:
        return _render(request, visitor, "login.html", 429, next=target, name=name,
                       error=f"Too many failed attempts. Try again in {int(wait) + 1} s.")
    user = await run_in_threadpool(_store(request).check_password, name, password)
    if user is None:
        throttle.failed(name, address)
        return _render(request, visitor, "login.html", 401, next=target, name=name,
                       error="Wrong user name or password.")
    throttle.succeeded(name, address)
    book = _book(request)
    book.revoke(visitor.session)
    response = _redirect(_safe_next(target))
    response.headers.append("set-cookie", book.cookie(book.new(user.name), _secure(request)))
    return response


async def logout(request: Request) -> Response:
    visitor = await _visitor(request)
    if await _form(request, visitor) is None:
        return _csrf_refused(request, visitor)
    _book(request).revoke(visitor.session)
    response = _redirect("/login")
    response.headers.append("set-cookie", SessionBook.clearing_cookie(_secure(request)))
    return response


# -- clusters ---------------------------------------------------------------------------------
async def dashboard(request: Request) -> Response:
    visitor = await _visitor(request)
    if visitor.user is None:
        return _to_login(request)
    owned = await run_in_threadpool(_store(request).clusters_of, visitor.user.id)
    rows = []
    for cluster in owned:
        status = await _status(request, cluster)
        placed, needed = _readiness(status)
        rows.append({"cluster": cluster, "status": status, "placed": placed,
                     "needed": needed})
    return _render(request, visitor, "dashboard.html", rows=rows)


async def new_cluster_page(request: Request) -> Response:
    visitor = await _visitor(request)
    if visitor.user is None:
        return _to_login(request)
    return _render(request, visitor, "cluster_new.html", alias="", key="", config="",
                   error=None)


async def create_cluster(request: Request) -> Response:
    visitor = await _visitor(request)
    if visitor.user is None:
        return _to_login(request)
    form = await _form(request, visitor)
    if form is None:
        return _csrf_refused(request, visitor)
    alias, key = _text(form, "alias").strip(), _text(form, "key").strip()
    config = _text(form, "config", MAX_CONFIG_BYTES)
    upload = form.get("config_file")
    error = None
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            error = {"where": "file", "reason": "the file is larger than 1 MiB"}
        else:
            try:
                config = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                error = {"where": "file", "reason": "the file is not UTF-8 text"}
    if error is None and not config.strip():
        error = {"where": "configuration", "reason": "empty: paste a configuration or "
                 "choose a file"}
    if error is None:
        try:
            cluster = await run_in_threadpool(_store(request).create_cluster,
                                              visitor.user.id, config, key=key or None,
                                              alias=alias)
        except ConfigError as exc:
            error = {"where": ", ".join(
                filter(None, [f"section [{exc.section}]" if exc.section else None,
                              f"key {exc.key}" if exc.key else None])) or "configuration",
                     "reason": exc.reason}
        except Conflict as exc:
            error = {"where": "key", "reason": str(exc)}
        else:
            return _redirect(cluster_url(cluster.key) + "?created=1")
    return _render(request, visitor, "cluster_new.html", 400, alias=alias, key=key,
                   config=config, error=error)


async def cluster_page(request: Request) -> Response:
    visitor = await _visitor(request)
    if visitor.user is None:
        return _to_login(request)
    cluster = await _owned_cluster(request, visitor)
    if cluster is None:
        return _not_found(request, visitor)
    status = await _status(request, cluster)
    placed, needed = _readiness(status)
    return _render(request, visitor, "cluster.html", cluster=cluster, status=status,
                   placed=placed, needed=needed, command=runner_command(request, cluster),
                   created=request.query_params.get("created") == "1")


ACTIONS = {
    "reset": ("Reset", "The placement, the nodes and their states are forgotten; the "
              "configuration and the logs stay. Runners that ask again are placed anew."),
    "delete": ("Delete", "The cluster, its configuration and all its logs are removed for "
               "good. Its runners stop at their next heartbeat."),
}


async def cluster_action(request: Request) -> Response:
    """GET: the confirmation page; POST (with the CSRF token): reset or delete."""
    visitor = await _visitor(request)
    if visitor.user is None:
        return _to_login(request)
    cluster = await _owned_cluster(request, visitor)
    action = request.path_params["action"]
    if cluster is None or action not in ACTIONS:
        return _not_found(request, visitor)
    if request.method == "GET":
        label, consequence = ACTIONS[action]
        return _render(request, visitor, "confirm.html", cluster=cluster, action=action,
                       label=label, consequence=consequence)
    if await _form(request, visitor) is None:
        return _csrf_refused(request, visitor)
    store = _store(request)
    if action == "reset":
        await run_in_threadpool(store.reset_cluster, cluster.id)
        return _redirect(cluster_url(cluster.key))
    await run_in_threadpool(store.delete_cluster, cluster.id)
    return _redirect("/")


# -- logs -------------------------------------------------------------------------------------
def _log_params(request: Request) -> dict[str, str]:
    return {name: request.query_params[name][:MAX_FIELD] for name in LOG_FILTERS
            if request.query_params.get(name, "").strip()}


async def logs_page(request: Request) -> Response:
    visitor = await _visitor(request)
    if visitor.user is None:
        return _to_login(request)
    cluster = await _owned_cluster(request, visitor)
    if cluster is None:
        return _not_found(request, visitor)
    store = _store(request)
    filters = _log_params(request)
    params = dict(filters)
    if request.query_params.get("cursor"):
        params["cursor"] = request.query_params["cursor"][:1000]
    error, rows, query = None, [], LogQuery()
    try:
        query = query_from_params(params, store.secret)
        rows = await run_in_threadpool(store.query_logs, cluster.id, query)
    except LogInputError as exc:
        error = str(exc)
    full = len(rows) == DEFAULT_LIMIT
    if query.descending:
        rows.reverse()
    paged = "cursor" in params
    older = newer = None
    if rows and (full or not query.descending):
        older = urlencode({**filters, "cursor": encode_cursor(
            store.secret, replace(query, descending=True), rows[0]["id"])})
    if rows and paged and (full or query.descending):
        newer = urlencode({**filters, "cursor": encode_cursor(
            store.secret, replace(query, descending=False), rows[-1]["id"])})
    nodes = await run_in_threadpool(store.node_rows, cluster.id)
    return _render(request, visitor, "logs.html", 400 if error else 200, cluster=cluster,
                   lines=rows, filters={name: filters.get(name, "") for name in LOG_FILTERS},
                   filtered=bool(filters), error=error, older=older, newer=newer,
                   live=not paged and error is None, streams=STREAMS,
                   services=[s.name for s in cluster.config.services],
                   nodes=[n["name"] for n in nodes],
                   last_id=rows[-1]["id"] if rows else 0,
                   follow_query=urlencode(filters))


# -- users ------------------------------------------------------------------------------------
async def account(request: Request) -> Response:
    """GET: the user's own page; POST: a new API key for them (shown once)."""
    visitor = await _visitor(request)
    if visitor.user is None:
        return _to_login(request)
    new_key = None
    if request.method == "POST":
        if await _form(request, visitor) is None:
            return _csrf_refused(request, visitor)
        new_key = await run_in_threadpool(_store(request).new_key, visitor.user.name)
    return _render(request, visitor, "account.html", new_key=new_key)


async def admin_users(request: Request) -> Response:
    """GET: every user; POST: create one (its API key is shown once)."""
    visitor = await _visitor(request)
    if visitor.user is None:
        return _to_login(request)
    if not visitor.user.is_admin:
        return _not_found(request, visitor)
    store = _store(request)
    notice, error = None, None
    if request.method == "POST":
        form = await _form(request, visitor)
        if form is None:
            return _csrf_refused(request, visitor)
        name = _text(form, "name", 101).strip()
        password = _text(form, "password", MAX_PASSWORD + 1)
        if not name or len(name) > 100:
            error = "Name: 1 to 100 characters."
        elif not password or len(password) > MAX_PASSWORD:
            error = "Password: 1 to 1024 characters."
        else:
            try:
                user, key = await run_in_threadpool(store.add_user, name, password,
                                                    admin=form.get("admin") == "on")
                notice = {"name": user.name, "key": key, "created": True}
            except Conflict as exc:
                error = str(exc).capitalize() + "."
    everyone = await run_in_threadpool(store.list_users)
    return _render(request, visitor, "admin_users.html", 400 if error else 200,
                   users=everyone, notice=notice, error=error)


async def admin_user_action(request: Request) -> Response:
    visitor = await _visitor(request)
    if visitor.user is None:
        return _to_login(request)
    if not visitor.user.is_admin:
        return _not_found(request, visitor)
    if await _form(request, visitor) is None:
        return _csrf_refused(request, visitor)
    store = _store(request)
    name, action = request.path_params["name"], request.path_params["action"]
    notice = None
    try:
        if action == "deactivate":
            await run_in_threadpool(store.set_active, name, False)
        elif action == "activate":
            await run_in_threadpool(store.set_active, name, True)
        elif action == "key":
            notice = {"name": name, "key": await run_in_threadpool(store.new_key, name),
                      "created": False}
        else:
            return _not_found(request, visitor)
    except NotFound:
        return _not_found(request, visitor)
    if notice is None:
        return _redirect("/admin/users")
    everyone = await run_in_threadpool(store.list_users)
    return _render(request, visitor, "admin_users.html", users=everyone, notice=notice,
                   error=None)


def install(app: Any, store: Store) -> None:
    """Give ``app`` what the pages need (the session book; routes come from :func:`routes`)."""
    app.state.sessions = SessionBook(store.secret)


def routes() -> list[BaseRoute]:
    c = "/clusters/{cluster}"
    return [
        Route("/", dashboard, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/clusters/new", new_cluster_page, methods=["GET"]),
        Route("/clusters/new", create_cluster, methods=["POST"]),
        Route(c, cluster_page, methods=["GET"]),
        Route(c + "/logs", logs_page, methods=["GET"]),
        Route(c + "/{action:str}", cluster_action, methods=["GET", "POST"]),
        Route("/account", account, methods=["GET", "POST"]),
        Route("/admin/users", admin_users, methods=["GET", "POST"]),
        Route("/admin/users/{name}/{action}", admin_user_action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
