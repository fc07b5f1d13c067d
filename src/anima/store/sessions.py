"""Sessions, their interactions, and relationships per player and character.

Turns on one session are serialised with a lease (``lease_owner``/``lease_until``) taken by
a conditional UPDATE: it works the same on SQLite and PostgreSQL and across workers.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Integer,
    Row,
    String,
    Table,
    UniqueConstraint,
    case,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from anima.domain.session import (
    Interaction,
    Player,
    Session,
    SessionCharacter,
    SessionKind,
)
from anima.store.tables import Base

if TYPE_CHECKING:
    from anima.store.db import Store


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    loaded_scene: Mapped[str] = mapped_column(String(400))
    scene_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    characters: Mapped[list[Any]]
    player: Mapped[dict[str, Any]]
    agent_state: Mapped[dict[str, Any]]
    stream_state: Mapped[dict[str, Any]]
    created_at: Mapped[float] = mapped_column(Float)
    last_active_at: Mapped[float] = mapped_column(Float, index=True)
    next_seq: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class InteractionRow(Base):
    __tablename__ = "interactions"
    __table_args__ = (UniqueConstraint("session_id", "seq", name="uq_interactions_session_seq"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]]


class RelationshipRow(Base):
    __tablename__ = "relationships"

    workspace: Mapped[str] = mapped_column(String(128), primary_key=True)
    end_user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    character_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[float] = mapped_column(Float)


_SESSIONS: Table = SessionRow.__table__  # type: ignore[assignment]
_INTERACTIONS: Table = InteractionRow.__table__  # type: ignore[assignment]


def _session_to_row(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "workspace": s.workspace,
        "kind": s.kind.value,
        "loaded_scene": s.loaded_scene,
        "scene_version": s.scene_version,
        "characters": [dataclasses.asdict(c) for c in s.characters],
        "player": s.player.to_dict(),
        "agent_state": s.agent_state,
        "stream_state": s.stream_state,
        "created_at": s.created_at,
        "last_active_at": s.last_active_at,
    }


def _row_to_session(r: SessionRow | Row[Any]) -> Session:
    return Session(
        id=r.id,
        workspace=r.workspace,
        kind=SessionKind(r.kind),
        loaded_scene=r.loaded_scene,
        characters=[SessionCharacter(**c) for c in r.characters],
        player=Player.from_dict(r.player),
        created_at=r.created_at,
        last_active_at=r.last_active_at,
        scene_version=r.scene_version,
        agent_state=dict(r.agent_state or {}),
        stream_state=dict(r.stream_state or {}),
    )


def _interaction_data(i: Interaction) -> dict[str, Any]:
    return {
        "inputKind": i.input_kind,
        "inputText": i.input_text,
        "trigger": i.trigger,
        "parameters": [list(p) for p in i.parameters],
        "texts": list(i.texts),
        "narrated": list(i.narrated),
        "emotion": list(i.emotion),
        "relationship": i.relationship,
        "triggersOut": [[name, [list(p) for p in params]] for name, params in i.triggers_out],
        "cancelled": i.cancelled,
        "fallback": i.fallback,
        "trace": i.trace,
    }


def _emotion_pair(value: Any) -> tuple[str, str]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return str(value[0]), str(value[1])
    return "NEUTRAL", "NORMAL"


def _row_to_interaction(r: InteractionRow | Row[Any]) -> Interaction:
    d = r.data
    return Interaction(
        id=r.id,
        session_id=r.session_id,
        agent_id=r.agent_id,
        seq=r.seq,
        created_at=r.created_at,
        input_kind=d.get("inputKind", "text"),
        input_text=d.get("inputText", ""),
        trigger=d.get("trigger", ""),
        parameters=tuple((str(a), str(b)) for a, b in d.get("parameters", ())),
        texts=tuple(d.get("texts", ())),
        narrated=tuple(d.get("narrated", ())),
        emotion=_emotion_pair(d.get("emotion")),
        relationship=dict(d.get("relationship") or {}),
        triggers_out=tuple(
            (str(name), tuple((str(a), str(b)) for a, b in params))
            for name, params in d.get("triggersOut", ())
        ),
        cancelled=bool(d.get("cancelled", False)),
        fallback=bool(d.get("fallback", False)),
        trace=dict(d.get("trace") or {}),
    )


class SessionRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, session: Session) -> None:
        async with self._store.session() as s:
            s.add(SessionRow(**_session_to_row(session), next_seq=0))

    async def get(self, session_id: str) -> Session | None:
        async with self._store.session() as s:
            row = await s.get(SessionRow, session_id)
            return None if row is None else _row_to_session(row)

    async def acquire(
        self, session_id: str, owner: str, now: float, until: float
    ) -> Session | None:
        """Take the session's turn lease and read the session, in one round trip. None when
        another turn holds the lease (or there is no such session)."""
        t = _SESSIONS
        stmt = (
            update(t)
            .where(
                t.c.id == session_id,
                (t.c.lease_until.is_(None)) | (t.c.lease_until < now) | (t.c.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_until=until)
            .returning(*t.c)
        )
        async with self._store.session() as s:
            row = (await s.execute(stmt)).first()
        return None if row is None else _row_to_session(row)

    async def release(self, session_id: str, owner: str) -> None:
        stmt = (
            update(SessionRow)
            .where(SessionRow.id == session_id, SessionRow.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
        async with self._store.session() as s:
            await s.execute(stmt)

    async def save_state(self, session: Session, *, touch: float | None = None) -> None:
        values: dict[str, Any] = {
            "agent_state": session.agent_state,
            "stream_state": session.stream_state,
            "characters": [dataclasses.asdict(c) for c in session.characters],
            "loaded_scene": session.loaded_scene,
            "scene_version": session.scene_version,
            "kind": session.kind.value,
        }
        if touch is not None:
            values["last_active_at"] = touch
        async with self._store.session() as s:
            await s.execute(update(SessionRow).where(SessionRow.id == session.id).values(**values))

    async def save_stream_state(
        self, session_id: str, stream_state: dict[str, Any], *, touch: float | None = None
    ) -> None:
        """Store only the streaming faces' transport state (never races a turn's commit)."""
        values: dict[str, Any] = {"stream_state": stream_state}
        if touch is not None:
            values["last_active_at"] = touch
        async with self._store.session() as s:
            await s.execute(update(SessionRow).where(SessionRow.id == session_id).values(**values))

    async def commit_turn(
        self,
        session: Session,
        interaction: Interaction,
        owner: str,
        now: float,
    ) -> Interaction:
        """Store the interaction and the session's new state, and release the lease, at once.

        The interaction's ``seq`` is assigned here (the next number for the session).
        """
        t = _SESSIONS
        held = t.c.lease_owner == owner
        bump = (
            update(t)
            .where(t.c.id == session.id)
            .values(
                next_seq=t.c.next_seq + 1,
                agent_state=session.agent_state,
                # stream_state is not written here: the streaming faces change it while a
                # turn runs (save_stream_state) and the turn's copy of it would be stale.
                last_active_at=now,
                lease_owner=case((held, None), else_=t.c.lease_owner),
                lease_until=case((held, None), else_=t.c.lease_until),
            )
            .returning(t.c.next_seq)
        )
        async with self._store.session() as s:
            next_seq = (await s.execute(bump)).scalar()
            if next_seq is None:
                raise LookupError(session.id)
            stored = dataclasses.replace(interaction, seq=int(next_seq) - 1)
            await s.execute(
                insert(_INTERACTIONS).values(
                    id=stored.id,
                    session_id=stored.session_id,
                    agent_id=stored.agent_id,
                    seq=stored.seq,
                    created_at=stored.created_at,
                    data=_interaction_data(stored),
                )
            )
            return stored

    async def history(self, session_id: str, limit: int = 50) -> list[Interaction]:
        """The last ``limit`` interactions, oldest first."""
        t = _INTERACTIONS
        stmt = select(t).where(t.c.session_id == session_id).order_by(t.c.seq.desc()).limit(limit)
        async with self._store.session() as s:
            rows = (await s.execute(stmt)).all()
        return [_row_to_interaction(r) for r in reversed(rows)]

    async def get_interaction(self, session_id: str, interaction_id: str) -> Interaction | None:
        async with self._store.session() as s:
            row = await s.get(InteractionRow, interaction_id)
            if row is None or row.session_id != session_id:
                return None
            return _row_to_interaction(row)

    async def purge_expired(self, before: float) -> int:
        async with self._store.session() as s:
            result = await s.execute(delete(SessionRow).where(SessionRow.last_active_at < before))
            return int(getattr(result, "rowcount", 0) or 0)


class RelationshipRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, workspace: str, end_user_id: str, character_id: str) -> dict[str, Any]:
        async with self._store.session() as s:
            row = await s.get(RelationshipRow, (workspace, end_user_id, character_id))
            return dict(row.state) if row is not None else {}

    async def put(
        self, workspace: str, end_user_id: str, character_id: str, state: dict[str, Any], now: float
    ) -> None:
        async with self._store.session() as s:
            row = await s.get(RelationshipRow, (workspace, end_user_id, character_id))
            if row is None:
                s.add(
                    RelationshipRow(
                        workspace=workspace,
                        end_user_id=end_user_id,
                        character_id=character_id,
                        state=state,
                        updated_at=now,
                    )
                )
            else:
                row.state = state
                row.updated_at = now
