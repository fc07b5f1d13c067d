"""Table definitions (SQLAlchemy ORM). Timestamps are UNIX epoch seconds as floats."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, Float, ForeignKey, Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONType, list[Any]: JSONType}


class WorkspaceRow(Base):
    __tablename__ = "workspaces"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace: Mapped[str] = mapped_column(
        String(128), ForeignKey("workspaces.name", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(16))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The secret encrypted under the sealing key (store/sealing.py), for IW1-HMAC-SHA256 checks;
    # NULL for keys created before migration 0003.
    sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class ServerValueRow(Base):
    """Small server-wide values that must survive restarts (signing keys and the like)."""

    __tablename__ = "server_values"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)


Index("ix_api_keys_workspace_created", ApiKeyRow.workspace, ApiKeyRow.created_at)


class UsedNonceRow(Base):
    """Nonces of IW1-HMAC-SHA256 requests already accepted, kept until their window closes."""

    __tablename__ = "used_nonces"

    api_key: Mapped[str] = mapped_column(
        String(64), ForeignKey("api_keys.key", ondelete="CASCADE"), primary_key=True
    )
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
