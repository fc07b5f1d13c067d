"""Knowledge vectors and players' long-term memories.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "knowledge_corpora",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("texts", JSONType, nullable=False),
        sa.Column("vectors", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "knowledge_sets",
        sa.Column("workspace", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("resource_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("corpora", JSONType, nullable=False),
    )
    op.create_table(
        "player_memories",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workspace", sa.String(128), nullable=False),
        sa.Column("character_id", sa.String(200), nullable=False),
        sa.Column("end_user_id", sa.String(200), nullable=False),
        sa.Column("slot", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("player_name", sa.String(200), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("interaction_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_player_memories_owner",
        "player_memories",
        ["workspace", "character_id", "end_user_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_player_memories_owner", "player_memories")
    op.drop_table("player_memories")
    op.drop_table("knowledge_sets")
    op.drop_table("knowledge_corpora")
