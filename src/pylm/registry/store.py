"""All of the registry's SQL: users, keys, clusters, placement, node states and log lines.

No other module issues SQL. Every public method is one transaction. Placement is serialised
per cluster: ``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite, so
runners joining at once never get the same replica or the same port.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, create_engine, delete, event, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from pylm.registry import auth
from pylm.registry.config import ClusterConfig, NodeSpec, parse_cluster
from pylm.registry.logs import LogQuery, LogRow
from pylm.registry.models import ApiKey, Cluster, InstanceState, LogLine, Node, Setting, User
from pylm.registry.planner import PlacedInstance, Placement, fresh_name, plan

__all__ = [
    "ClusterInfo",
    "Conflict",
    "NotFound",
    "Store",
    "UnsupportedDatabase",
    "UserInfo",
    "default_db_url",
]

HOME_ENV = "PYLM_REGISTRY_HOME"
DB_FILE = "registry.db"
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
SECRET_SETTING = "signing_secret"
MIGRATION_LOCK_ID = 0x70796C6D  # "pylm": the advisory lock taken while migrating
SQLITE_BUSY_MS = 60_000
SQLITE_CACHE_KIB = 65_536
LOG_INSERT_CHUNK = 1000
LOG_COLUMNS = ("cluster_id", "time", "node", "service", "instance", "stream", "source", "seq",
               "text")
PG_LOG_TYPES = ("integer", "timestamp", "text", "text", "text", "text", "text", "bigint", "text")

users = User.__table__
api_keys = ApiKey.__table__
clusters = Cluster.__table__
nodes = Node.__table__
states = InstanceState.__table__
log_lines = LogLine.__table__
settings = Setting.__table__


class UnsupportedDatabase(ValueError):
    """The URL names a database other than SQLite or PostgreSQL."""


class NotFound(LookupError):
    """The cluster, user or node does not exist."""


class Conflict(ValueError):
    """The name or key is already taken."""


def default_db_url() -> str:
    """SQLite file in ``$PYLM_REGISTRY_HOME`` or ``~/.local/share/pylm-registry``."""
    home = os.environ.get(HOME_ENV) or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "pylm-registry")
    return f"sqlite:///{os.path.join(home, DB_FILE)}"


def utcnow() -> datetime:
    """Naive UTC (the database columns carry no time zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    is_admin: bool
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class ClusterInfo:
    id: int
    key: str
    key_generated: bool
    alias: str
    owner_id: int
    description: str
    placement: Placement
    retention: int | None
    created_at: datetime
    owner_active: bool = True

    @property
    def config(self) -> ClusterConfig:
        return _parsed(self.description)


@functools.lru_cache(maxsize=256)
def _parsed(description: str) -> ClusterConfig:
    return parse_cluster(description)


def _user(row: Mapping[str, Any]) -> UserInfo:
    return UserInfo(row["id"], row["name"], bool(row["is_admin"]), bool(row["active"]),
                    row["created_at"])


def _cluster(row: Mapping[str, Any]) -> ClusterInfo:
    return ClusterInfo(row["id"], row["key"], bool(row["key_generated"]), row["alias"],
                       row["owner_id"], row["description"], Placement.from_dict(row["placement"]),
                       row["retention"], row["created_at"], bool(row.get("owner_active", True)))


class Store:
    """The registry's database. ``url`` is any SQLAlchemy URL (SQLite or PostgreSQL)."""

    def __init__(self, url: str, *, default_retention: int | None = None):
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in SUPPORTED_BACKENDS:
            raise UnsupportedDatabase(f"{self.dialect!r} is not supported: use "
                                      "sqlite:///FILE, sqlite:// or postgresql+psycopg://...")
        self.default_retention = default_retention
        self._lock: threading.RLock | None = None
        self._engine = self._make_engine()
        self.secret = self._migrate()
        self._since_prune: dict[int, int] = {}
        self._insert_sql: dict[tuple[int, bool], str] = {}

    # -- engine and transactions ------------------------------------------------------------
    def _make_engine(self) -> Engine:
        if self.dialect == "sqlite":
            database = self.url.database or ""
            memory = database in ("", ":memory:") or "mode=memory" in str(self.url)
            if memory:
                self._lock = threading.RLock()
                engine = create_engine(self.url, poolclass=StaticPool,
                                       connect_args={"check_same_thread": False})
            else:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(
                    self.url, connect_args={"check_same_thread": False,
                                            "timeout": SQLITE_BUSY_MS / 1000})

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None
                cursor = dbapi_conn.cursor()
                if not memory:
                    cursor.execute("PRAGMA journal_mode=WAL")
                    cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
                cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                immediate = conn.get_execution_options().get("pylm_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return engine
        return create_engine(self.url, pool_size=10, max_overflow=40, pool_pre_ping=True)

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Connection]:
        with self._lock or nullcontext(), self._engine.connect() as conn:
            if write:
                conn.execution_options(pylm_write=True)
            with conn.begin():
                yield conn

    def _migrate(self) -> str:
        """Bring the schema to the newest revision; answers the signing secret.

        One transaction, under an advisory lock on PostgreSQL (``BEGIN IMMEDIATE`` on
        SQLite), so processes starting together neither race on the DDL nor on the secret.
        """
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._tx(write=True) as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            value = conn.execute(
                select(settings.c.value).where(settings.c.name == SECRET_SETTING)).scalar()
            if value is None:
                value = auth.new_secret()
                conn.execute(settings.insert().values(name=SECRET_SETTING, value=value))
            return value

    def close(self) -> None:
        self._engine.dispose()

    def _insert(self, table: Any) -> Any:
        return (pg_insert if self.dialect == "postgresql" else sqlite_insert)(table)

    # -- users ------------------------------------------------------------------------------
    def add_user(self, name: str, password: str, *, admin: bool = False) -> tuple[UserInfo, str]:
        """Create a user; answers the user and their API key (shown once, stored hashed)."""
        password_hash = auth.hash_password(password)
        token = auth.new_api_key()
        now = utcnow()
        try:
            with self._tx(write=True) as conn:
                user_id = conn.execute(users.insert().values(
                    name=name, password_hash=password_hash, is_admin=admin, active=True,
                    created_at=now)).inserted_primary_key[0]
                conn.execute(api_keys.insert().values(
                    user_id=user_id, digest=auth.key_digest(token), created_at=now,
                    revoked=False))
        except IntegrityError:
            raise Conflict(f"user {name!r} already exists") from None
        return UserInfo(user_id, name, admin, True, now), token

    def list_users(self) -> list[UserInfo]:
        with self._tx() as conn:
            rows = conn.execute(select(users).order_by(users.c.id)).mappings().all()
        return [_user(r) for r in rows]

    def get_user(self, name: str) -> UserInfo:
        with self._tx() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"no user {name!r}")
        return _user(row)

    def set_active(self, name: str, active: bool) -> UserInfo:
        with self._tx(write=True) as conn:
            done = conn.execute(update(users).where(users.c.name == name).values(active=active))
            if done.rowcount == 0:
                raise NotFound(f"no user {name!r}")
        return self.get_user(name)

    def new_key(self, name: str) -> str:
        """A fresh API key for ``name``; the user's previous keys stop working."""
        token = auth.new_api_key()
        with self._tx(write=True) as conn:
            user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
            if user_id is None:
                raise NotFound(f"no user {name!r}")
            conn.execute(update(api_keys).where(api_keys.c.user_id == user_id)
                         .values(revoked=True))
            conn.execute(api_keys.insert().values(user_id=user_id, digest=auth.key_digest(token),
                                                  created_at=utcnow(), revoked=False))
        return token

    def user_by_key(self, token: str) -> UserInfo | None:
        """The active user owning this API key, or None."""
        if not token:
            return None
        with self._tx() as conn:
            row = conn.execute(
                select(users).join(api_keys, api_keys.c.user_id == users.c.id).where(
                    api_keys.c.digest == auth.key_digest(token), api_keys.c.revoked.is_(False),
                    users.c.active.is_(True))).mappings().first()
        return _user(row) if row else None

    def check_password(self, name: str, password: str) -> UserInfo | None:
        with self._tx() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
        if row is None or not row["active"] or not auth.verify_password(row["password_hash"],
                                                                         password):
            return None
        return _user(row)

    # -- clusters ---------------------------------------------------------------------------
    def create_cluster(self, owner_id: int, description: str, *, key: str | None = None,
                       alias: str = "") -> ClusterInfo:
        """Store a validated configuration (raises ConfigError, Conflict)."""
        _parsed(description)
        generated = key is None
        cluster_key = auth.new_cluster_key() if key is None else key
        now = utcnow()
        try:
            with self._tx(write=True) as conn:
                cid = conn.execute(clusters.insert().values(
                    key=cluster_key, key_generated=generated, alias=alias, owner_id=owner_id,
                    description=description, placement={}, retention=self.default_retention,
                    created_at=now)).inserted_primary_key[0]
        except IntegrityError:
            raise Conflict("cluster key already in use") from None
        return ClusterInfo(cid, cluster_key, generated, alias, owner_id, description,
                           Placement(), self.default_retention, now)

    def get_cluster(self, key: str) -> ClusterInfo | None:
        with self._tx() as conn:
            row = conn.execute(
                select(clusters, users.c.active.label("owner_active"))
                .join(users, users.c.id == clusters.c.owner_id)
                .where(clusters.c.key == key)).mappings().first()
        return _cluster(row) if row else None

    def clusters_of(self, owner_id: int) -> list[ClusterInfo]:
        with self._tx() as conn:
            rows = conn.execute(select(clusters).where(clusters.c.owner_id == owner_id)
                                .order_by(clusters.c.id)).mappings().all()
        return [_cluster(r) for r in rows]

    def reset_cluster(self, cluster_id: int) -> None:
        """Forget the placement, the nodes and their states; keep configuration and logs."""
        with self._tx(write=True) as conn:
            conn.execute(update(clusters).where(clusters.c.id == cluster_id).values(placement={}))
            conn.execute(delete(nodes).where(nodes.c.cluster_id == cluster_id))
            conn.execute(delete(states).where(states.c.cluster_id == cluster_id))

    def delete_cluster(self, cluster_id: int) -> None:
        with self._tx(write=True) as conn:
            for table in (log_lines, states, nodes):
                conn.execute(delete(table).where(table.c.cluster_id == cluster_id))
            conn.execute(delete(clusters).where(clusters.c.id == cluster_id))
        self._since_prune.pop(cluster_id, None)

    def set_retention(self, cluster_id: int, retention: int | None) -> None:
        with self._tx(write=True) as conn:
            conn.execute(update(clusters).where(clusters.c.id == cluster_id)
                         .values(retention=retention))

    # -- placement and node states ----------------------------------------------------------
    def join(self, key: str, node: NodeSpec, *, fresh: bool = False
             ) -> tuple[PlacedInstance, ...]:
        """Place what ``node`` can run, atomically for this cluster; idempotent per name.

        With ``fresh`` (legacy ``node_config``) a name that already joined gets a new
        suffixed name, so the request places anew as the original registry did.
        """
        now = utcnow()
        with self._tx(write=True) as conn:
            row = conn.execute(select(clusters).where(clusters.c.key == key)
                               .with_for_update()).mappings().first()
            if row is None:
                raise NotFound("cluster not found")
            cluster = _cluster(row)
            if fresh:
                node = replace(node, name=fresh_name(cluster.placement, node.name))
            placed, after = plan(cluster.config, node, cluster.placement)
            if after is not cluster.placement:
                conn.execute(update(clusters).where(clusters.c.id == cluster.id)
                             .values(placement=after.to_dict()))
            conn.execute(self._insert(nodes).values(
                cluster_id=cluster.id, name=node.name, ip=node.ip, joined_at=now,
                last_heartbeat=now).on_conflict_do_update(
                    index_elements=["cluster_id", "name"], set_={"last_heartbeat": now}))
        return placed

    def heartbeat(self, cluster_id: int, node: str, reports: Sequence[Mapping[str, Any]]) -> None:
        now = utcnow()
        with self._tx(write=True) as conn:
            conn.execute(self._insert(nodes).values(
                cluster_id=cluster_id, name=node, ip="", joined_at=now,
                last_heartbeat=now).on_conflict_do_update(
                    index_elements=["cluster_id", "name"], set_={"last_heartbeat": now}))
            for report in reports:
                values = {"node": node, "state": report["state"], "pid": report.get("pid"),
                          "restarts": report.get("restarts", 0),
                          "last_exit": report.get("last_exit"),
                          "started_at": report.get("started_at"), "updated_at": now}
                conn.execute(self._insert(states).values(
                    cluster_id=cluster_id, instance=report["instance"], **values)
                    .on_conflict_do_update(index_elements=["cluster_id", "instance"],
                                           set_=values))

    def record_states(self, cluster_id: int,
                      updates: Sequence[tuple[str, str, Mapping[str, Any], bool]]) -> None:
        """Apply runner events, in order, to the instances' latest states (one transaction).

        Each update is ``(instance, node, changed columns, restarted)``.
        """
        now = utcnow()
        with self._tx(write=True) as conn:
            for instance, node, changes, restarted in updates:
                current = conn.execute(select(states).where(
                    states.c.cluster_id == cluster_id, states.c.instance == instance)
                ).mappings().first()
                restarts = (current["restarts"] if current else 0) + (1 if restarted else 0)
                values = {"node": node, "restarts": restarts, "updated_at": now, **changes}
                if current is None:
                    conn.execute(states.insert().values(cluster_id=cluster_id,
                                                        instance=instance, **values))
                else:
                    conn.execute(update(states).where(states.c.id == current["id"])
                                 .values(**values))

    def node_rows(self, cluster_id: int) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(select(nodes).where(nodes.c.cluster_id == cluster_id)
                                .order_by(nodes.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def state_rows(self, cluster_id: int) -> dict[str, dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(select(states).where(states.c.cluster_id == cluster_id)
                                ).mappings().all()
        return {r["instance"]: dict(r) for r in rows}

    def counts(self) -> dict[str, int]:
        with self._tx() as conn:
            return {
                "clusters": conn.execute(select(func.count()).select_from(clusters)).scalar_one(),
                "nodes": conn.execute(select(func.count()).select_from(nodes)).scalar_one(),
                "users": conn.execute(select(func.count()).select_from(users)).scalar_one(),
            }

    # -- logs -------------------------------------------------------------------------------
    def ingest(self, cluster_id: int, lines: Sequence[LogRow | tuple[Any, ...]]) -> int:
        """Store lines once per (cluster, source, instance, seq); answers how many were new.

        Each line is a :class:`LogRow` or a plain tuple in the same field order.
        """
        if not lines:
            return 0
        if self.dialect == "sqlite":
            # SQLAlchemy's SQLite DATETIME text form, formatted once per distinct time.
            times: dict[datetime, str] = {}
            for line in lines:
                if line[0] not in times:
                    times[line[0]] = line[0].isoformat(sep=" ", timespec="microseconds")
            rows = [(cluster_id, times[line[0]], *line[1:]) for line in lines]
        else:
            rows = [(cluster_id, *line) for line in lines]
        sqlite = self.dialect == "sqlite"
        accepted = 0
        with self._tx(write=True) as conn:
            for start in range(0, len(rows), LOG_INSERT_CHUNK):
                chunk = rows[start:start + LOG_INSERT_CHUNK]
                dedupe = any(row[7] is not None for row in chunk)
                if sqlite:
                    params: tuple[Any, ...] = tuple(itertools.chain.from_iterable(chunk))
                else:  # one array per column: nine parameters whatever the batch size
                    params = tuple(list(column) for column in zip(*chunk, strict=True))
                accepted += conn.exec_driver_sql(self._log_insert_sql(len(chunk), dedupe),
                                                 params).rowcount
            keep = conn.execute(select(clusters.c.retention)
                                .where(clusters.c.id == cluster_id)).scalar()
        if keep is not None:
            self._maybe_prune(cluster_id, accepted, keep)
        return accepted

    def _log_insert_sql(self, rows: int, dedupe: bool) -> str:
        """One multi-row ``INSERT ... ON CONFLICT DO NOTHING`` for a batch of lines.

        Written out (and cached) rather than built by SQLAlchemy, whose compiler would
        rebuild a 9,000-parameter statement for every batch: on SQLite a ``VALUES`` list per
        batch size, on PostgreSQL one ``INSERT ... SELECT FROM unnest(column arrays)``. The
        rowcount is the number of new lines. Batches without sequence numbers (legacy) cannot
        collide and skip the conflict clause.
        """
        if self.dialect != "sqlite":
            rows = 0  # PostgreSQL: one statement over unnest(arrays) serves every size
        sql = self._insert_sql.get((rows, dedupe))
        if sql is None:
            columns = ", ".join(LOG_COLUMNS)
            if self.dialect == "sqlite":
                one = "(" + ", ".join(["?"] * len(LOG_COLUMNS)) + ")"
                sql = f"INSERT INTO log_lines ({columns}) VALUES " + ", ".join([one] * rows)
            else:
                arrays = ", ".join(f"%s::{kind}[]" for kind in PG_LOG_TYPES)
                sql = f"INSERT INTO log_lines ({columns}) SELECT * FROM unnest({arrays})"
            if dedupe:
                sql += (" ON CONFLICT (cluster_id, source, instance, seq)"
                        " WHERE seq IS NOT NULL DO NOTHING")
            self._insert_sql[(rows, dedupe)] = sql
        return sql

    def _maybe_prune(self, cluster_id: int, added: int, keep: int) -> None:
        """Prune once a tenth of the retention (at least 100 lines) arrived since last time."""
        count = self._since_prune.get(cluster_id, 0) + added
        self._since_prune[cluster_id] = count
        if count >= max(100, keep // 10):
            self._since_prune[cluster_id] = 0
            self.prune(cluster_id, keep)

    def prune(self, cluster_id: int, keep: int) -> int:
        """Delete all but the newest ``keep`` lines of a cluster."""
        with self._tx(write=True) as conn:
            threshold = conn.execute(
                select(log_lines.c.id).where(log_lines.c.cluster_id == cluster_id)
                .order_by(log_lines.c.id.desc()).limit(1).offset(keep)).scalar()
            if threshold is None:
                return 0
            return conn.execute(delete(log_lines).where(
                log_lines.c.cluster_id == cluster_id, log_lines.c.id <= threshold)).rowcount

    def query_logs(self, cluster_id: int, query: LogQuery) -> list[dict[str, Any]]:
        c = log_lines.c
        conditions = [c.cluster_id == cluster_id]
        for name in ("service", "node", "instance", "stream"):
            value = getattr(query, name)
            if value is not None:
                conditions.append(c[name] == value)
        if query.since is not None:
            conditions.append(c.time >= query.since if query.inclusive else c.time > query.since)
        if query.until is not None:
            conditions.append(c.time < query.until)
        if query.text:
            escaped = (query.text.replace("\\", "\\\\").replace("%", "\\%")
                       .replace("_", "\\_"))
            conditions.append(c.text.like(f"%{escaped}%", escape="\\"))
        if query.after_id is not None:
            conditions.append(c.id < query.after_id if query.descending
                              else c.id > query.after_id)
        stmt = select(c.id, c.time, c.node, c.service, c.instance, c.stream, c.seq,
                      c.text).where(*conditions)
        stmt = stmt.order_by(c.id.desc() if query.descending else c.id.asc())
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        with self._tx() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]
