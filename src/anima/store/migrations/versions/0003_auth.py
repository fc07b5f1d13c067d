"""Streaming auth: request nonces, and the sealed copy of API secrets for HMAC signatures.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("sealed_secret", sa.LargeBinary, nullable=True))
    op.create_table(
        "used_nonces",
        sa.Column(
            "api_key",
            sa.String(64),
            sa.ForeignKey("api_keys.key", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_used_nonces_expires_at", "used_nonces", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_used_nonces_expires_at", "used_nonces")
    op.drop_table("used_nonces")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("sealed_secret")
