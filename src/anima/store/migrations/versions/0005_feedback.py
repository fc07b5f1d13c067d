"""Feedback on interactions.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "interaction_feedback",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workspace", sa.String(128), nullable=False),
        sa.Column(
            "session_id",
            sa.String(200),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("interaction_id", sa.String(128), nullable=False),
        sa.Column("group_id", sa.String(128), nullable=False),
        sa.Column("is_like", sa.Boolean, nullable=False),
        sa.Column("types", JSONType, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_interaction_feedback_session_id", "interaction_feedback", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_interaction_feedback_session_id", "interaction_feedback")
    op.drop_table("interaction_feedback")
