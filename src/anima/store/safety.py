"""Safety events (``safety_events``): the verdicts of a character's turns, for its workspace.

Written after each committed turn from the interaction's ``trace["safety"]``; read newest
first by ``GET /studio/v1/workspaces/{ws}/characters/{c}/safetyEvents``. Every read is
scoped to one workspace.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Index, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from anima.store.tables import Base

if TYPE_CHECKING:
    from anima.store.db import Store


class SafetyEventRow(Base):
    __tablename__ = "safety_events"
    __table_args__ = (
        Index("ix_safety_events_character", "workspace", "character_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(128))
    character_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(String(200))
    interaction_id: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str] = mapped_column(String(128))
    side: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


class SafetyEventRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(
        self,
        *,
        workspace: str,
        character_id: str,
        session_id: str,
        interaction_id: str,
        agent_id: str,
        records: Sequence[dict[str, Any]],
        created_at: float,
    ) -> None:
        """Store the verdict records of one turn (``Verdict.record`` dicts)."""
        if not records:
            return
        async with self._store.session() as s:
            s.add_all(
                SafetyEventRow(
                    id=str(uuid.uuid4()),
                    workspace=workspace,
                    character_id=character_id,
                    session_id=session_id,
                    interaction_id=interaction_id,
                    agent_id=agent_id,
                    side=str(r["side"]),
                    topic=str(r["topic"]),
                    level=str(r["level"]),
                    action=str(r["action"]),
                    score=float(r["score"]),
                    text=str(r.get("text", "")),
                    created_at=created_at + i * 1e-6,  # keeps a turn's records in order
                )
                for i, r in enumerate(records)
            )

    async def recent(
        self, workspace: str, character_id: str, *, limit: int, action: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest events of a character in ``workspace``, newest first."""
        stmt = select(SafetyEventRow).where(
            SafetyEventRow.workspace == workspace, SafetyEventRow.character_id == character_id
        )
        if action is not None:
            stmt = stmt.where(SafetyEventRow.action == action)
        stmt = stmt.order_by(SafetyEventRow.created_at.desc()).limit(limit)
        async with self._store.session() as s:
            rows = (await s.scalars(stmt)).all()
        return [
            {
                "session_id": r.session_id,
                "interaction_id": r.interaction_id,
                "agent_id": r.agent_id,
                "side": r.side,
                "topic": r.topic,
                "level": r.level,
                "action": r.action,
                "score": r.score,
                "text": r.text,
                "created_at": r.created_at,
            }
            for r in rows
        ]
