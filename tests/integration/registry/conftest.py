"""Fixtures: registry databases (SQLite file, PostgreSQL) and a running registry process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from registry_proc import PG_DSN, Server, legacy_interpreter, registry_server


@pytest.fixture
def sqlite_db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def postgres_db() -> Iterator[str]:
    import psycopg

    name = "pylm_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server(sqlite_db, tmp_path) -> Iterator[Server]:
    with registry_server(sqlite_db, tmp_path / "registry.log") as s:
        yield s




@pytest.fixture
def legacy_python() -> str:
    """The interpreter of the virtualenv holding the ORIGINAL pylm-registry 0.4.14."""
    path = legacy_interpreter()
    if path is None:
        pytest.fail("the original pylm-registry 0.4.14 virtualenv is missing: run "
                    "scripts/legacy-venv (or set PYLM_LEGACY_PYTHON to its interpreter)")
    return path
