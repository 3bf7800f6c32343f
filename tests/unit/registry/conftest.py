"""In-process fixtures: a store on a temporary SQLite file and a sync client of the ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from pylm.registry.app import AppSettings, create_app
from pylm.registry.store import Store


class AppClient:
    """Synchronous calls into the ASGI app (no network, no test-client deprecation)."""

    def __init__(self, app) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://registry.test", timeout=30)

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@dataclass
class Registry:
    store: Store
    client: AppClient
    admin_key: str
    alice_key: str
    bob_key: str

    def bearer(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def registry(store) -> Iterator[Registry]:
    app = create_app(store, AppSettings(max_body=64 * 1024, heartbeat_interval=5.0))
    _, admin = store.add_user("root", "root-password", admin=True)
    _, alice = store.add_user("alice", "alice-password")
    _, bob = store.add_user("bob", "bob-password")
    client = AppClient(app)
    try:
        yield Registry(store, client, admin, alice, bob)
    finally:
        client.close()
