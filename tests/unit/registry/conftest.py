"""In-process fixtures: a store on a temporary SQLite file and a sync client of the ASGI app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from registry_samples import AppClient

from pylm.registry.app import AppSettings, create_app
from pylm.registry.store import Store


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
