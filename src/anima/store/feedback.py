"""Feedback on interactions (``interaction_feedback``), deleted with its session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Float, ForeignKey, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from anima.domain.feedback import Feedback
from anima.store.tables import Base

if TYPE_CHECKING:
    from anima.store.db import Store


class FeedbackRow(Base):
    __tablename__ = "interaction_feedback"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    interaction_id: Mapped[str] = mapped_column(String(128))
    group: Mapped[str] = mapped_column("group_id", String(128))
    is_like: Mapped[bool] = mapped_column(Boolean)
    types: Mapped[list[Any]]
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


def _to_domain(r: FeedbackRow) -> Feedback:
    return Feedback(
        id=r.id,
        workspace=r.workspace,
        session_id=r.session_id,
        interaction_id=r.interaction_id,
        group=r.group,
        is_like=r.is_like,
        types=tuple(str(t) for t in r.types or ()),
        comment=r.comment,
        created_at=r.created_at,
    )


class FeedbackRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, feedback: Feedback) -> Feedback:
        async with self._store.session() as s:
            s.add(
                FeedbackRow(
                    id=feedback.id,
                    workspace=feedback.workspace,
                    session_id=feedback.session_id,
                    interaction_id=feedback.interaction_id,
                    group=feedback.group,
                    is_like=feedback.is_like,
                    types=list(feedback.types),
                    comment=feedback.comment,
                    created_at=feedback.created_at,
                )
            )
        return feedback

    async def get(self, workspace: str, feedback_id: str) -> Feedback | None:
        async with self._store.session() as s:
            row = await s.get(FeedbackRow, feedback_id)
            return None if row is None or row.workspace != workspace else _to_domain(row)

    async def for_session(
        self, session_id: str, interaction_id: str | None = None
    ) -> list[Feedback]:
        stmt = select(FeedbackRow).where(FeedbackRow.session_id == session_id)
        if interaction_id is not None:
            stmt = stmt.where(FeedbackRow.interaction_id == interaction_id)
        async with self._store.session() as s:
            rows = (await s.scalars(stmt.order_by(FeedbackRow.created_at))).all()
        return [_to_domain(r) for r in rows]

    async def delete(self, workspace: str, feedback_id: str) -> bool:
        stmt = delete(FeedbackRow).where(
            FeedbackRow.id == feedback_id, FeedbackRow.workspace == workspace
        )
        async with self._store.session() as s:
            result = await s.execute(stmt)
            return bool(getattr(result, "rowcount", 0))
