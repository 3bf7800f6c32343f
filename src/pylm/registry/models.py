"""The registry's tables (SQLAlchemy 2 declarative). Only :mod:`pylm.registry.store` uses them.

The schema is created and migrated by the Alembic scripts in ``migrations/``; a change here
needs a new revision there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["ApiKey", "Base", "Cluster", "InstanceState", "LogLine", "Node", "Setting", "User"]

# SQLite only gives an auto-incrementing rowid to INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """Registry-wide values, e.g. the signing secret generated on first start."""

    __tablename__ = "settings"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApiKey(Base):
    """An API key, stored as the SHA-256 of the token (the token is shown once)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Cluster(Base):
    __tablename__ = "clusters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    key_generated: Mapped[bool] = mapped_column(Boolean)
    alias: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    placement: Mapped[dict] = mapped_column(JSON, default=dict)
    retention: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Node(Base):
    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("cluster_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str] = mapped_column(String(64))
    joined_at: Mapped[datetime] = mapped_column(DateTime)
    last_heartbeat: Mapped[datetime] = mapped_column(DateTime)


class InstanceState(Base):
    """The latest state a runner reported for one instance."""

    __tablename__ = "instance_states"
    __table_args__ = (UniqueConstraint("cluster_id", "instance"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    instance: Mapped[str] = mapped_column(String(300))
    node: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    last_exit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class LogLine(Base):
    """One printed line; ``(cluster_id, source, instance, seq)`` is unique when seq is set."""

    __tablename__ = "log_lines"
    __table_args__ = (
        # Partial: lines without a sequence number (legacy POST /logs) skip this index.
        Index("uq_log_lines_seq", "cluster_id", "source", "instance", "seq", unique=True,
              sqlite_where=text("seq IS NOT NULL"), postgresql_where=text("seq IS NOT NULL")),
        Index("ix_log_lines_cluster_id", "cluster_id", "id"),
        Index("ix_log_lines_cluster_service_id", "cluster_id", "service", "id"),
        Index("ix_log_lines_cluster_time", "cluster_id", "time"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    time: Mapped[datetime] = mapped_column(DateTime)
    node: Mapped[str] = mapped_column(String(200), default="")
    service: Mapped[str] = mapped_column(String(200), default="")
    instance: Mapped[str] = mapped_column(String(300), default="")
    stream: Mapped[str] = mapped_column(String(20), default="stdout")
    source: Mapped[str] = mapped_column(String(100), default="")
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    text: Mapped[str] = mapped_column(Text)
