"""Engine sessions, interactions, relationships.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("workspace", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("loaded_scene", sa.String(400), nullable=False),
        sa.Column("scene_version", sa.Integer, nullable=True),
        sa.Column("characters", JSONType, nullable=False),
        sa.Column("player", JSONType, nullable=False),
        sa.Column("agent_state", JSONType, nullable=False),
        sa.Column("stream_state", JSONType, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_active_at", sa.Float, nullable=False),
        sa.Column("next_seq", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
    )
    op.create_index("ix_sessions_workspace", "sessions", ["workspace"])
    op.create_index("ix_sessions_last_active_at", "sessions", ["last_active_at"])
    op.create_table(
        "interactions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(200),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.UniqueConstraint("session_id", "seq", name="uq_interactions_session_seq"),
    )
    op.create_index("ix_interactions_session_id", "interactions", ["session_id"])
    op.create_table(
        "relationships",
        sa.Column("workspace", sa.String(128), primary_key=True),
        sa.Column("end_user_id", sa.String(200), primary_key=True),
        sa.Column("character_id", sa.String(200), primary_key=True),
        sa.Column("state", JSONType, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("relationships")
    op.drop_index("ix_interactions_session_id", "interactions")
    op.drop_table("interactions")
    op.drop_index("ix_sessions_last_active_at", "sessions")
    op.drop_index("ix_sessions_workspace", "sessions")
    op.drop_table("sessions")
