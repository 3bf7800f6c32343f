"""Initial schema: settings, users, API keys, clusters, nodes, instance states, log lines.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("key_generated", sa.Boolean, nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("placement", sa.JSON, nullable=False),
        sa.Column("retention", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("joined_at", sa.DateTime, nullable=False),
        sa.Column("last_heartbeat", sa.DateTime, nullable=False),
        sa.UniqueConstraint("cluster_id", "name"),
    )
    op.create_table(
        "instance_states",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("instance", sa.String(300), nullable=False),
        sa.Column("node", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("restarts", sa.Integer, nullable=False),
        sa.Column("last_exit", sa.Integer, nullable=True),
        sa.Column("started_at", sa.String(40), nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("cluster_id", "instance"),
    )
    op.create_table(
        "log_lines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("node", sa.String(200), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("instance", sa.String(300), nullable=False),
        sa.Column("stream", sa.String(20), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("uq_log_lines_seq", "log_lines", ["cluster_id", "source", "instance", "seq"],
                    unique=True, sqlite_where=sa.text("seq IS NOT NULL"),
                    postgresql_where=sa.text("seq IS NOT NULL"))
    op.create_index("ix_log_lines_cluster_id", "log_lines", ["cluster_id", "id"])
    op.create_index("ix_log_lines_cluster_service_id", "log_lines", ["cluster_id", "service", "id"])
    op.create_index("ix_log_lines_cluster_time", "log_lines", ["cluster_id", "time"])


def downgrade() -> None:
    for table in ("log_lines", "instance_states", "nodes", "clusters", "api_keys", "users",
                  "settings"):
        op.drop_table(table)
