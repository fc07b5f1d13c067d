"""Knowledge vectors and players' long-term memories.

``knowledge_corpora``: one row per embedded set of texts, keyed by a digest of the texts and
the embedding model, so the same facts are embedded and stored once however many versions
use them; the vectors are one float32 matrix (``domain.retrieval.to_bytes``).
``knowledge_sets``: which corpora a deployed character or scene version uses.
``player_memories``: what a player told a character, per (workspace, character, endUserId),
with its vector, the interaction it came from and when it was last confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Index, Integer, LargeBinary, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from anima.domain.retrieval import Corpus, from_bytes, to_bytes
from anima.store.tables import Base

if TYPE_CHECKING:
    from anima.store.db import Store


class KnowledgeCorpusRow(Base):
    __tablename__ = "knowledge_corpora"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    texts: Mapped[list[Any]]
    vectors: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)


class KnowledgeSetRow(Base):
    __tablename__ = "knowledge_sets"

    workspace: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    corpora: Mapped[dict[str, Any]]


class MemoryRow(Base):
    __tablename__ = "player_memories"
    __table_args__ = (
        Index("ix_player_memories_owner", "workspace", "character_id", "end_user_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(128))
    character_id: Mapped[str] = mapped_column(String(200))
    end_user_id: Mapped[str] = mapped_column(String(200))
    slot: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    player_name: Mapped[str] = mapped_column(String(200))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    session_id: Mapped[str] = mapped_column(String(200))
    interaction_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True, slots=True)
class StoredMemory:
    id: str
    workspace: str
    character_id: str
    end_user_id: str
    slot: str
    text: str  # "{player}" for the player's name
    player_name: str  # the player's name when they said it
    vector: bytes
    session_id: str
    interaction_id: str
    created_at: float
    updated_at: float


def _memory(r: MemoryRow) -> StoredMemory:
    return StoredMemory(
        id=r.id,
        workspace=r.workspace,
        character_id=r.character_id,
        end_user_id=r.end_user_id,
        slot=r.slot,
        text=r.text,
        player_name=r.player_name,
        vector=r.vector,
        session_id=r.session_id,
        interaction_id=r.interaction_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


class VectorRepo:
    """Embedded knowledge: corpora and the sets deployed versions use."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def has_corpus(self, key: str) -> bool:
        async with self._store.session() as s:
            return (
                await s.execute(select(KnowledgeCorpusRow.key).where(KnowledgeCorpusRow.key == key))
            ).first() is not None

    async def put_corpus(self, key: str, model: str, corpus: Corpus, now: float) -> None:
        async with self._store.session() as s:
            if await s.get(KnowledgeCorpusRow, key) is None:
                s.add(
                    KnowledgeCorpusRow(
                        key=key,
                        model=model,
                        dim=int(corpus.vectors.shape[1]),
                        texts=list(corpus.texts),
                        vectors=to_bytes(corpus.vectors),
                        created_at=now,
                    )
                )

    async def corpus(self, key: str, source: str) -> Corpus | None:
        async with self._store.session() as s:
            row = await s.get(KnowledgeCorpusRow, key)
            if row is None:
                return None
            return Corpus(source, tuple(row.texts), from_bytes(row.vectors, row.dim))

    async def put_set(
        self, workspace: str, kind: str, resource_id: str, version: int, corpora: dict[str, Any]
    ) -> None:
        async with self._store.session() as s:
            row = await s.get(KnowledgeSetRow, (workspace, kind, resource_id, version))
            if row is None:
                s.add(
                    KnowledgeSetRow(
                        workspace=workspace,
                        kind=kind,
                        resource_id=resource_id,
                        version=version,
                        corpora=corpora,
                    )
                )
            else:
                row.corpora = corpora

    async def get_set(
        self, workspace: str, kind: str, resource_id: str, version: int
    ) -> dict[str, Any] | None:
        async with self._store.session() as s:
            row = await s.get(KnowledgeSetRow, (workspace, kind, resource_id, version))
            return dict(row.corpora) if row is not None else None


class MemoryRepo:
    """Players' long-term memories of a character."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def of_player(
        self, workspace: str, character_id: str, end_user_id: str
    ) -> list[StoredMemory]:
        """Oldest first."""
        async with self._store.session() as s:
            rows = (
                await s.execute(
                    select(MemoryRow)
                    .where(
                        MemoryRow.workspace == workspace,
                        MemoryRow.character_id == character_id,
                        MemoryRow.end_user_id == end_user_id,
                    )
                    .order_by(MemoryRow.created_at, MemoryRow.id)
                )
            ).scalars()
            return [_memory(r) for r in rows]

    async def of_workspace_player(self, workspace: str, end_user_id: str) -> list[StoredMemory]:
        """Every character's memories of a player, by character, oldest first."""
        async with self._store.session() as s:
            rows = (
                await s.execute(
                    select(MemoryRow)
                    .where(MemoryRow.workspace == workspace, MemoryRow.end_user_id == end_user_id)
                    .order_by(MemoryRow.character_id, MemoryRow.created_at, MemoryRow.id)
                )
            ).scalars()
            return [_memory(r) for r in rows]

    async def add(self, memory: StoredMemory) -> None:
        async with self._store.session() as s:
            s.add(
                MemoryRow(
                    id=memory.id,
                    workspace=memory.workspace,
                    character_id=memory.character_id,
                    end_user_id=memory.end_user_id,
                    slot=memory.slot,
                    text=memory.text,
                    player_name=memory.player_name,
                    vector=memory.vector,
                    session_id=memory.session_id,
                    interaction_id=memory.interaction_id,
                    created_at=memory.created_at,
                    updated_at=memory.updated_at,
                )
            )

    async def replace(
        self,
        memory_id: str,
        *,
        text: str,
        vector: bytes,
        session_id: str,
        interaction_id: str,
        now: float,
        slot: str | None = None,
    ) -> None:
        """A newer statement (or the same one again) takes the place of ``memory_id``."""
        async with self._store.session() as s:
            row = await s.get(MemoryRow, memory_id)
            if row is None:
                return
            row.text, row.vector = text, vector
            if slot is not None:
                row.slot = slot
            row.session_id, row.interaction_id = session_id, interaction_id
            row.updated_at = now

    async def delete(
        self, workspace: str, character_id: str, end_user_id: str, memory_id: str | None = None
    ) -> int:
        """Forget one memory (``memory_id``) or all of the player's; how many were deleted."""
        conditions = [
            MemoryRow.workspace == workspace,
            MemoryRow.character_id == character_id,
            MemoryRow.end_user_id == end_user_id,
        ]
        if memory_id is not None:
            conditions.append(MemoryRow.id == memory_id)
        async with self._store.session() as s:
            result = await s.execute(delete(MemoryRow).where(*conditions))
            return int(getattr(result, "rowcount", 0) or 0)

    async def delete_player(self, workspace: str, end_user_id: str) -> int:
        """Forget everything every character of ``workspace`` remembers of a player."""
        async with self._store.session() as s:
            result = await s.execute(
                delete(MemoryRow).where(
                    MemoryRow.workspace == workspace, MemoryRow.end_user_id == end_user_id
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def get(
        self, workspace: str, character_id: str, end_user_id: str, memory_id: str
    ) -> StoredMemory | None:
        async with self._store.session() as s:
            row = await s.get(MemoryRow, memory_id)
            if row is None or (row.workspace, row.character_id, row.end_user_id) != (
                workspace,
                character_id,
                end_user_id,
            ):
                return None
            return _memory(row)

    async def trim(self, workspace: str, character_id: str, end_user_id: str, keep: int) -> int:
        """Forget all but the ``keep`` most recently confirmed memories of the player."""
        async with self._store.session() as s:
            ids = (
                (
                    await s.execute(
                        select(MemoryRow.id)
                        .where(
                            MemoryRow.workspace == workspace,
                            MemoryRow.character_id == character_id,
                            MemoryRow.end_user_id == end_user_id,
                        )
                        .order_by(MemoryRow.updated_at.desc(), MemoryRow.id)
                        .offset(keep)
                    )
                )
                .scalars()
                .all()
            )
            if ids:
                await s.execute(delete(MemoryRow).where(MemoryRow.id.in_(ids)))
            return len(ids)
