"""Who may call: bearer tokens resolved to a user, an administrator, or a cluster's caller.

A user's API key opens that user's clusters; a generated cluster key opens the runner calls
of that one cluster. A missing token answers 401; a wrong one 403; an unknown cluster 404.
A GET without an ``Authorization`` header may instead carry the web interface's session
cookie (:mod:`.sessions`), so the dashboard's pages read status and logs; nothing that
changes state takes the cookie (no CSRF through the API).
"""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pylm.registry.errors import HttpError
from pylm.registry.sessions import cookie_user
from pylm.registry.store import ClusterInfo, Store, UserInfo

__all__ = ["admin_caller", "bearer_token", "browser_caller", "caller", "cluster_for",
           "store_of"]


def store_of(request: Request) -> Store:
    return request.app.state.store


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpError(401, "missing bearer token")
    return token.strip()


async def browser_caller(request: Request) -> UserInfo | None:
    """The session cookie's user, for reads without an ``Authorization`` header."""
    if request.method not in ("GET", "HEAD") or "authorization" in request.headers:
        return None
    return await cookie_user(request)


async def caller(request: Request) -> UserInfo:
    browser = await browser_caller(request)
    if browser is not None:
        return browser
    user = await run_in_threadpool(store_of(request).user_by_key, bearer_token(request))
    if user is None:
        raise HttpError(403, "invalid API key")
    return user


async def admin_caller(request: Request) -> UserInfo:
    user = await caller(request)
    if not user.is_admin:
        raise HttpError(403, "administrators only")
    return user


async def cluster_for(request: Request, *, runner: bool = False) -> ClusterInfo:
    """The cluster in the path, if the token may use it (owner; or join key when ``runner``)."""
    browser = await browser_caller(request)
    token = "" if browser is not None else bearer_token(request)
    store = store_of(request)
    cluster = await run_in_threadpool(store.get_cluster, request.path_params["cluster"])
    if cluster is None:
        raise HttpError(404, "cluster not found")
    if runner and token and cluster.key_generated and hmac.compare_digest(
            token.encode(), cluster.key.encode()):
        if not cluster.owner_active:
            raise HttpError(403, "the cluster's owner is deactivated")
        return cluster
    user = browser or await run_in_threadpool(store.user_by_key, token)
    if user is None or user.id != cluster.owner_id:
        raise HttpError(403, "not allowed for this cluster")
    return cluster
