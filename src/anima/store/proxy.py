"""The REST proxy's sessions and its event queue (``proxy_sessions``, ``proxy_events``).

Both live in the store, so every worker serves every proxy session and a restart loses
neither. The queue is one FIFO ordered by ``seq``: ``drain`` deletes and returns what it
takes in one ``DELETE ... RETURNING`` statement, so two concurrent drains never return the
same event; ``push`` keeps at most ``limit`` events, dropping the oldest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from anima.domain.proxy import ProxySession
from anima.store.tables import Base

if TYPE_CHECKING:
    from anima.store.db import Store

_SEQ = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


class ProxySessionRow(Base):
    __tablename__ = "proxy_sessions"

    id: Mapped[str] = mapped_column(
        String(200), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    workspace: Mapped[str] = mapped_column(String(128))
    uid: Mapped[str] = mapped_column(String(400), index=True)
    scene_id: Mapped[str] = mapped_column(String(400))
    character_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    server_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class ProxyEventRow(Base):
    __tablename__ = "proxy_events"

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=True)
    server_id: Mapped[str | None] = mapped_column(String(400), nullable=True, index=True)
    body: Mapped[str] = mapped_column(Text)  # JSON text: key order is part of the contract
    created_at: Mapped[float] = mapped_column(Float)


def _to_domain(r: ProxySessionRow) -> ProxySession:
    return ProxySession(
        id=r.id,
        workspace=r.workspace,
        uid=r.uid,
        scene_id=r.scene_id,
        character_key=r.character_key,
        server_id=r.server_id,
        agent_id=r.agent_id,
        created_at=r.created_at,
    )


class ProxyRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- sessions ----------------------------------------------------------------------------

    async def add(self, session: ProxySession) -> None:
        async with self._store.session() as s:
            s.add(
                ProxySessionRow(
                    id=session.id,
                    workspace=session.workspace,
                    uid=session.uid,
                    scene_id=session.scene_id,
                    character_key=session.character_key,
                    server_id=session.server_id,
                    agent_id=session.agent_id,
                    created_at=session.created_at,
                )
            )

    async def get(self, session_id: str) -> ProxySession | None:
        async with self._store.session() as s:
            row = await s.get(ProxySessionRow, session_id)
            return None if row is None else _to_domain(row)

    async def of_user(self, uid: str, scene_id: str | None = None) -> list[ProxySession]:
        stmt = select(ProxySessionRow).where(ProxySessionRow.uid == uid)
        if scene_id is not None:
            stmt = stmt.where(ProxySessionRow.scene_id == scene_id)
        async with self._store.session() as s:
            rows = (await s.scalars(stmt.order_by(ProxySessionRow.created_at))).all()
        return [_to_domain(r) for r in rows]

    async def change(self, session_id: str, **values: str | None) -> bool:
        """Set ``agent_id``, ``character_key`` or ``server_id``; False when it is gone."""
        stmt = update(ProxySessionRow).where(ProxySessionRow.id == session_id).values(**values)
        async with self._store.session() as s:
            result = await s.execute(stmt)
            return bool(getattr(result, "rowcount", 0))

    async def remove(self, session_ids: Sequence[str]) -> list[str]:
        """Delete these sessions; the ids that existed."""
        if not session_ids:
            return []
        stmt = (
            delete(ProxySessionRow)
            .where(ProxySessionRow.id.in_(list(session_ids)))
            .returning(ProxySessionRow.id)
        )
        async with self._store.session() as s:
            return list((await s.execute(stmt)).scalars().all())

    # -- the event queue ---------------------------------------------------------------------

    async def push(self, events: Sequence[dict[str, Any]], *, limit: int, now: float) -> int:
        """Queue ``events``; keep the newest ``limit``. Returns how many old ones were dropped."""
        async with self._store.session() as s:
            for event in events:
                s.add(
                    ProxyEventRow(
                        server_id=event.get("serverId"),
                        body=json.dumps(event, ensure_ascii=False, separators=(",", ":")),
                        created_at=now,
                    )
                )
            await s.flush()
            newest_dropped = await s.scalar(
                select(ProxyEventRow.seq).order_by(ProxyEventRow.seq.desc()).offset(limit).limit(1)
            )
            if newest_dropped is None:
                return 0
            result = await s.execute(
                delete(ProxyEventRow).where(ProxyEventRow.seq <= newest_dropped)
            )
            return int(getattr(result, "rowcount", 0))

    async def drain(self, server_id: str | None = None) -> list[dict[str, Any]]:
        """Take every queued event (or those tagged ``server_id``), oldest first."""
        stmt = delete(ProxyEventRow)
        if server_id is not None:
            stmt = stmt.where(ProxyEventRow.server_id == server_id)
        async with self._store.session() as s:
            taken = (await s.execute(stmt.returning(ProxyEventRow.seq, ProxyEventRow.body))).all()
        return [json.loads(body) for _, body in sorted(taken)]

    async def queued(self) -> int:
        async with self._store.session() as s:
            return int(await s.scalar(select(func.count()).select_from(ProxyEventRow)) or 0)
