"""The web interface (spec §8): log-in, clusters, cluster status, logs, users.

The handlers here build on :mod:`.pages` (templates, visitor, CSRF-checked forms). Every
POST checks the session's CSRF token first (403 without it). A cluster page of a cluster the
user does not own answers 404, like one that does not exist; so do the administration pages
for a user who is not an administrator. Assets are served from ``static/`` by the registry.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pylm.registry.config import ConfigError
from pylm.registry.logs import (
    DEFAULT_LIMIT,
    STREAMS,
    LogInputError,
    LogQuery,
    encode_cursor,
    query_from_params,
)
from pylm.registry.pages import (
    MAX_CONFIG_BYTES,
    MAX_FIELD,
    MAX_PASSWORD,
    Visitor,
    book,
    cluster_url,
    csrf_refused,
    current_visitor,
    is_secure,
    not_found,
    posted_form,
    redirect,
    render,
    safe_next,
    store_of,
    text_field,
    to_login,
)
from pylm.registry.sessions import SessionBook
from pylm.registry.status import status_view
from pylm.registry.store import ClusterInfo, Conflict, NotFound, Store, utcnow

__all__ = ["install", "routes", "runner_command"]

STATIC = Path(__file__).parent / "static"
LOG_FILTERS = ("service", "node", "instance", "stream", "from", "to", "q")


async def _owned_cluster(request: Request, visitor: Visitor) -> ClusterInfo | None:
    cluster = await run_in_threadpool(store_of(request).get_cluster,
                                      request.path_params["cluster"])
    if cluster is None or visitor.user is None or cluster.owner_id != visitor.user.id:
        return None
    return cluster


async def _status(request: Request, cluster: ClusterInfo) -> dict[str, Any]:
    store = store_of(request)
    node_rows = await run_in_threadpool(store.node_rows, cluster.id)
    state_rows = await run_in_threadpool(store.state_rows, cluster.id)
    return status_view(cluster, node_rows, state_rows,
                       request.app.state.settings.lost_seconds, utcnow())


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
    visitor = await current_visitor(request)
    if visitor.user is not None:
        return redirect(safe_next(request.query_params.get("next")))
    return render(request, visitor, "login.html", next=request.query_params.get("next", ""),
                  error=None, name="")


async def login(request: Request) -> Response:
    visitor = await current_visitor(request)
    form = await posted_form(request, visitor)
    if form is None:
        return csrf_refused(request, visitor)
    name, password = text_field(form, "name"), text_field(form, "password", MAX_PASSWORD)
    target = text_field(form, "next", 2000)
    address = request.client.host if request.client else ""
    throttle = book(request).throttle
    wait = throttle.wait(name, address)
    if wait > 0:
        return render(request, visitor, "login.html", 429, next=target, name=name,
                      error=f"Too many failed attempts. Try again in {int(wait) + 1} s.")
    user = await run_in_threadpool(store_of(request).check_password, name, password)
    if user is None:
        throttle.failed(name, address)
        return render(request, visitor, "login.html", 401, next=target, name=name,
                      error="Wrong user name or password.")
    throttle.succeeded(name, address)
    sessions = book(request)
    sessions.revoke(visitor.session)
    response = redirect(safe_next(target))
    response.headers.append("set-cookie",
                            sessions.cookie(sessions.new(user.name), is_secure(request)))
    return response


async def logout(request: Request) -> Response:
    visitor = await current_visitor(request)
    if await posted_form(request, visitor) is None:
        return csrf_refused(request, visitor)
    book(request).revoke(visitor.session)
    response = redirect("/login")
    response.headers.append("set-cookie", SessionBook.clearing_cookie(is_secure(request)))
    return response


# -- clusters ---------------------------------------------------------------------------------
async def dashboard(request: Request) -> Response:
    visitor = await current_visitor(request)
    if visitor.user is None:
        return to_login(request)
    owned = await run_in_threadpool(store_of(request).clusters_of, visitor.user.id)
    rows = []
    for cluster in owned:
        status = await _status(request, cluster)
        placed, needed = _readiness(status)
        rows.append({"cluster": cluster, "status": status, "placed": placed,
                     "needed": needed})
    return render(request, visitor, "dashboard.html", rows=rows)


async def new_cluster_page(request: Request) -> Response:
    visitor = await current_visitor(request)
    if visitor.user is None:
        return to_login(request)
    return render(request, visitor, "cluster_new.html", alias="", key="", config="",
                  error=None)


async def create_cluster(request: Request) -> Response:
    visitor = await current_visitor(request)
    if visitor.user is None:
        return to_login(request)
    form = await posted_form(request, visitor)
    if form is None:
        return csrf_refused(request, visitor)
    alias, key = text_field(form, "alias").strip(), text_field(form, "key").strip()
    config = text_field(form, "config", MAX_CONFIG_BYTES + 1)
    upload = form.get("config_file")
    error = None
    if len(config) > MAX_CONFIG_BYTES:
        config = ""
        error = {"where": "configuration", "reason": "larger than 1 MiB"}
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
            cluster = await run_in_threadpool(store_of(request).create_cluster,
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
            return redirect(cluster_url(cluster.key) + "?created=1")
    return render(request, visitor, "cluster_new.html", 400, alias=alias, key=key,
                  config=config, error=error)


async def cluster_page(request: Request) -> Response:
    visitor = await current_visitor(request)
    if visitor.user is None:
        return to_login(request)
    cluster = await _owned_cluster(request, visitor)
    if cluster is None:
        return not_found(request, visitor)
    status = await _status(request, cluster)
    placed, needed = _readiness(status)
    return render(request, visitor, "cluster.html", cluster=cluster, status=status,
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
    visitor = await current_visitor(request)
    if visitor.user is None:
        return to_login(request)
    cluster = await _owned_cluster(request, visitor)
    action = request.path_params["action"]
    if cluster is None or action not in ACTIONS:
        return not_found(request, visitor)
    if request.method == "GET":
        label, consequence = ACTIONS[action]
        return render(request, visitor, "confirm.html", cluster=cluster, action=action,
                      label=label, consequence=consequence)
    if await posted_form(request, visitor) is None:
        return csrf_refused(request, visitor)
    store = store_of(request)
    if action == "reset":
        await run_in_threadpool(store.reset_cluster, cluster.id)
        return redirect(cluster_url(cluster.key))
    await run_in_threadpool(store.delete_cluster, cluster.id)
    return redirect("/")


# -- logs -------------------------------------------------------------------------------------
def _log_params(request: Request) -> dict[str, str]:
    return {name: request.query_params[name][:MAX_FIELD] for name in LOG_FILTERS
            if request.query_params.get(name, "").strip()}


async def logs_page(request: Request) -> Response:
    visitor = await current_visitor(request)
    if visitor.user is None:
        return to_login(request)
    cluster = await _owned_cluster(request, visitor)
    if cluster is None:
        return not_found(request, visitor)
    store = store_of(request)
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
    return render(request, visitor, "logs.html", 400 if error else 200, cluster=cluster,
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
    visitor = await current_visitor(request)
    if visitor.user is None:
        return to_login(request)
    new_key = None
    if request.method == "POST":
        if await posted_form(request, visitor) is None:
            return csrf_refused(request, visitor)
        new_key = await run_in_threadpool(store_of(request).new_key, visitor.user.name)
    return render(request, visitor, "account.html", new_key=new_key)


async def admin_users(request: Request) -> Response:
    """GET: every user; POST: create one (its API key is shown once)."""
    visitor = await current_visitor(request)
    if visitor.user is None:
        return to_login(request)
    if not visitor.user.is_admin:
        return not_found(request, visitor)
    store = store_of(request)
    notice, error = None, None
    if request.method == "POST":
        form = await posted_form(request, visitor)
        if form is None:
            return csrf_refused(request, visitor)
        name = text_field(form, "name", 101).strip()
        password = text_field(form, "password", MAX_PASSWORD + 1)
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
    return render(request, visitor, "admin_users.html", 400 if error else 200,
                  users=everyone, notice=notice, error=error)


async def admin_user_action(request: Request) -> Response:
    visitor = await current_visitor(request)
    if visitor.user is None:
        return to_login(request)
    if not visitor.user.is_admin:
        return not_found(request, visitor)
    if await posted_form(request, visitor) is None:
        return csrf_refused(request, visitor)
    store = store_of(request)
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
            return not_found(request, visitor)
    except NotFound:
        return not_found(request, visitor)
    if notice is None:
        return redirect("/admin/users")
    everyone = await run_in_threadpool(store.list_users)
    return render(request, visitor, "admin_users.html", users=everyone, notice=notice,
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
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
