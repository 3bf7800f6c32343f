"""The shipped Alembic migrations create exactly the schema that models.py describes."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from pylm.registry.models import Base
from pylm.registry.store import Store


def test_migrated_schema_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    Store(url).close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_opening_twice_does_not_migrate_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    first = Store(url)
    user, _ = first.add_user("alice", "pw")
    first.close()
    second = Store(url)
    assert [u.name for u in second.list_users()] == ["alice"]
    second.close()
