"""Foundation: workspaces, API keys, server values.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column(
            "workspace",
            sa.String(128),
            sa.ForeignKey("workspaces.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("salt", sa.LargeBinary(32), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_index("ix_api_keys_workspace", "api_keys", ["workspace"])
    op.create_index("ix_api_keys_workspace_created", "api_keys", ["workspace", "created_at"])
    op.create_table(
        "server_values",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("server_values")
    op.drop_index("ix_api_keys_workspace_created", "api_keys")
    op.drop_index("ix_api_keys_workspace", "api_keys")
    op.drop_table("api_keys")
    op.drop_table("workspaces")
