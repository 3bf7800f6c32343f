import sqlite3
import uuid
from datetime import datetime, timedelta

import pytest
from registry_samples import CLUSTER_INI

from pylm.registry.config import ConfigError, NodeSpec
from pylm.registry.logs import LogQuery, LogRow
from pylm.registry.store import Conflict, NotFound, Store

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    """The same store tests on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'registry.db'}")
        try:
            yield s
        finally:
            s.close()
        return
    import psycopg

    name = "pylm_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    s = Store(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        yield s
    finally:
        s.close()
        with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

def test_sqlite_file_is_in_wal_mode_and_migrated(tmp_path):
    path = tmp_path / "r.db"
    Store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"


def test_signing_secret_is_generated_once_and_kept(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    first = Store(url)
    second = Store(url)
    assert first.secret == second.secret and len(first.secret) >= 48
    assert Store("sqlite://").secret != first.secret


def test_api_key_authenticates_until_rotated_and_user_deactivated(store):
    user, key = store.add_user("alice", "pw")
    assert store.user_by_key(key) == user
    assert store.user_by_key(key + "x") is None
    new = store.new_key("alice")
    assert store.user_by_key(key) is None and store.user_by_key(new).name == "alice"
    store.set_active("alice", False)
    assert store.user_by_key(new) is None
    with pytest.raises(NotFound):
        store.new_key("nobody")


def test_duplicate_user_is_a_conflict(store):
    store.add_user("alice", "pw")
    with pytest.raises(Conflict):
        store.add_user("alice", "other")


def test_password_check(store):
    store.add_user("alice", "right")
    assert store.check_password("alice", "right").name == "alice"
    assert store.check_password("alice", "wrong") is None
    assert store.check_password("nobody", "right") is None


def test_invalid_configuration_is_not_stored(store):
    user, _ = store.add_user("alice", "pw")
    with pytest.raises(ConfigError):
        store.create_cluster(user.id, "[A]\nRole = x\n")
    assert store.clusters_of(user.id) == []


def test_chosen_cluster_key_is_unique(store):
    user, _ = store.add_user("alice", "pw")
    c = store.create_cluster(user.id, CLUSTER_INI, key="mine")
    assert c.key == "mine" and not c.key_generated
    with pytest.raises(Conflict):
        store.create_cluster(user.id, CLUSTER_INI, key="mine")


def test_join_is_persisted_idempotent_and_reset_forgets(store):
    user, _ = store.add_user("alice", "pw")
    c = store.create_cluster(user.id, CLUSTER_INI)
    assert c.key_generated and len(c.key) == 36
    first = store.join(c.key, NodeSpec("a", "127.0.0.1", 1, 5555))
    assert [p.service for p in first] == ["Valuation Master"]
    assert store.join(c.key, NodeSpec("a", "127.0.0.1", 1, 5555)) == first
    second = store.join(c.key, NodeSpec("b", "127.0.0.2", 5, 5555))
    assert len(second) == 2
    assert store.get_cluster(c.key).placement.ready(c.config)
    store.reset_cluster(c.id)
    again = store.get_cluster(c.key)
    assert again.placement.instances == () and again.description == CLUSTER_INI
    assert store.node_rows(c.id) == []
    with pytest.raises(NotFound):
        store.join("missing", NodeSpec("a", "127.0.0.1", 1, 5555))


def _lines(n, start=0, instance="A.0", service="A", source="s", when=None):
    when = when or datetime(2026, 1, 1)
    return [LogRow(when + timedelta(seconds=i), "", service, instance, "stdout", source, i,
                   f"line {i}") for i in range(start, start + n)]


def test_resent_batch_is_stored_once(store):
    user, _ = store.add_user("alice", "pw")
    c = store.create_cluster(user.id, CLUSTER_INI)
    assert store.ingest(c.id, _lines(10)) == 10
    assert store.ingest(c.id, _lines(15)) == 5
    assert store.ingest(c.id, _lines(10, source="other")) == 10
    assert len(store.query_logs(c.id, LogQuery(limit=None))) == 25


def test_query_filters_order_and_text(store):
    user, _ = store.add_user("alice", "pw")
    c = store.create_cluster(user.id, CLUSTER_INI)
    store.ingest(c.id, _lines(5, service="A", instance="A.0"))
    store.ingest(c.id, _lines(5, service="B", instance="B.0"))
    rows = store.query_logs(c.id, LogQuery(service="B", limit=3))
    assert [r["text"] for r in rows] == ["line 4", "line 3", "line 2"]
    rows = store.query_logs(c.id, LogQuery(service="A", descending=False, limit=2))
    assert [r["text"] for r in rows] == ["line 0", "line 1"]
    rows = store.query_logs(c.id, LogQuery(text="line 3", limit=None))
    assert len(rows) == 2
    rows = store.query_logs(c.id, LogQuery(text="%", limit=None))
    assert rows == []
    since = datetime(2026, 1, 1, 0, 0, 3)
    rows = store.query_logs(c.id, LogQuery(service="A", since=since, limit=None))
    assert sorted(r["text"] for r in rows) == ["line 3", "line 4"]


def test_prune_keeps_newest(store):
    user, _ = store.add_user("alice", "pw")
    c = store.create_cluster(user.id, CLUSTER_INI)
    store.ingest(c.id, _lines(50))
    assert store.prune(c.id, 10) == 40
    rows = store.query_logs(c.id, LogQuery(limit=None, descending=False))
    assert [r["text"] for r in rows] == [f"line {i}" for i in range(40, 50)]


def test_retention_is_applied_on_ingest(store):
    user, _ = store.add_user("alice", "pw")
    c = store.create_cluster(user.id, CLUSTER_INI)
    store.set_retention(c.id, 100)
    for start in range(0, 1000, 100):
        store.ingest(c.id, _lines(100, start=start))
    assert len(store.query_logs(c.id, LogQuery(limit=None))) <= 200


def test_delete_removes_cluster_and_its_logs(store):
    user, _ = store.add_user("alice", "pw")
    c = store.create_cluster(user.id, CLUSTER_INI)
    store.ingest(c.id, _lines(3))
    store.delete_cluster(c.id)
    assert store.get_cluster(c.key) is None
    assert store.query_logs(c.id, LogQuery(limit=None)) == []


def test_volatile_memory_store_is_safe_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    memory = Store("sqlite://")
    user, _ = memory.add_user("alice", "pw")
    c = memory.create_cluster(user.id, CLUSTER_INI)

    def send(k):
        return memory.ingest(c.id, _lines(50, source=f"s{k}"))

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(send, range(16))) == 800
    assert len(memory.query_logs(c.id, LogQuery(limit=None))) == 800
    memory.close()


def test_stores_opening_together_share_one_schema_and_secret(store):
    """Regression: processes starting at once on a fresh database raced on DDL and secret."""
    from concurrent.futures import ThreadPoolExecutor

    url = store.url.render_as_string(hide_password=False)
    with ThreadPoolExecutor(4) as pool:
        opened = list(pool.map(lambda _: Store(url), range(4)))
    try:
        assert {s.secret for s in opened} == {store.secret}
    finally:
        for s in opened:
            s.close()
