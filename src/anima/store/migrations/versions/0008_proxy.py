"""The REST proxy's sessions and event queue.

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proxy_sessions",
        sa.Column(
            "id",
            sa.String(200),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("workspace", sa.String(128), nullable=False),
        sa.Column("uid", sa.String(400), nullable=False),
        sa.Column("scene_id", sa.String(400), nullable=False),
        sa.Column("character_key", sa.String(400), nullable=True),
        sa.Column("server_id", sa.String(400), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_proxy_sessions_uid", "proxy_sessions", ["uid"])
    op.create_table(
        "proxy_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("server_id", sa.String(400), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_proxy_events_server_id", "proxy_events", ["server_id"])


def downgrade() -> None:
    op.drop_index("ix_proxy_events_server_id", "proxy_events")
    op.drop_table("proxy_events")
    op.drop_index("ix_proxy_sessions_uid", "proxy_sessions")
    op.drop_table("proxy_sessions")
