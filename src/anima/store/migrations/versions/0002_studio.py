"""Studio: characters, scenes, common knowledge, deployed versions, operations.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

# (drafts table, versions table) per Studio collection
_COLLECTIONS = (
    ("characters", "character_versions"),
    ("scenes", "scene_versions"),
    ("common_knowledge", "common_knowledge_versions"),
)


def upgrade() -> None:
    for drafts, versions in _COLLECTIONS:
        op.create_table(
            drafts,
            sa.Column(
                "workspace",
                sa.String(128),
                sa.ForeignKey("workspaces.name", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("uid", sa.String(32), nullable=False),
            sa.Column("data", JSONType, nullable=False),
            sa.Column("revision", sa.Integer, nullable=False),
            sa.Column("deploy_seq", sa.Integer, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
        )
        op.create_index(f"ix_{drafts}_listing", drafts, ["workspace", "created_at", "id"])
        op.create_table(
            versions,
            sa.Column("workspace", sa.String(128), primary_key=True),
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("version", sa.Integer, primary_key=True),
            sa.Column("operation_id", sa.String(32), nullable=False),
            sa.Column("data", JSONType, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.ForeignKeyConstraint(
                ["workspace", "id"],
                [f"{drafts}.workspace", f"{drafts}.id"],
                ondelete="CASCADE",
            ),
        )
    op.create_table(
        "operations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("workspace", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("resource_uid", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("snapshot", JSONType, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("error", JSONType, nullable=True),
        sa.Column("response", JSONType, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_operations_resource", "operations", ["workspace", "kind", "resource_id"])
    op.create_index("ix_operations_state", "operations", ["state"])


def downgrade() -> None:
    op.drop_index("ix_operations_state", "operations")
    op.drop_index("ix_operations_resource", "operations")
    op.drop_table("operations")
    for drafts, versions in reversed(_COLLECTIONS):
        op.drop_table(versions)
        op.drop_index(f"ix_{drafts}_listing", drafts)
        op.drop_table(drafts)
