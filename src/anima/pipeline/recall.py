"""Knowledge and long-term memory: what a character knows and remembers, found for each turn.

Two stages of the brain, sharing one search (domain/retrieval.py) over the embedder's vectors:

* ``KnowledgeBase``: at deploy (a ``Preparer``), every fact of the character's personal
  knowledge and of each common-knowledge collection it references (and of the scenes that
  hold it) is embedded and stored, keyed by the texts' digest so identical facts are embedded
  once. Each turn the player's line, alone and with the last exchange, is embedded and the
  best facts over ``knowledge_min_score`` go into the prompt, at most ``knowledge_top_k``. A
  character in a scene sees its own personal knowledge, its own common knowledge and the
  scene's: never another character's personal facts. Corpora are read from the store once
  per worker and kept in memory (bounded). A version deployed without vectors (before this
  existed, or by a tool without an embedder) is embedded on its first turn, once.
* ``Memory``: after each interaction with a player (``endUserId``), the durable facts they
  stated (domain/memory.py) are embedded and stored for (workspace, character, player), off
  the reply path; each turn the most relevant are recalled the same way as knowledge.

Both record what they found in the turn's trace. ``cognitive_control`` decides what the
character does with a question of fact it finds nothing about (domain/cognition.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anima.backends.embed import Embedder, Vectors
from anima.domain import cognition
from anima.domain import memory as mem
from anima.domain.character import Character
from anima.domain.cognition import Knowing
from anima.domain.knowledge import CommonKnowledge
from anima.domain.operation import Operation
from anima.domain.resource import ResourceKind, parse_reference
from anima.domain.retrieval import (
    Corpus,
    Hit,
    content_words,
    from_bytes,
    search,
    third_person,
    to_bytes,
)
from anima.domain.scene import Scene
from anima.errors import AnimaError, FailedPrecondition
from anima.settings import Settings
from anima.store import Store
from anima.store.memory import StoredMemory

log = logging.getLogger("anima.recall")

EMBED_BATCH = 64
CACHE_BYTES = 256 * 1024 * 1024  # corpora kept in memory per worker


def _digest(model: str, texts: Sequence[str]) -> str:
    h = hashlib.sha256(model.encode())
    for text in texts:
        h.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
    return f"{model}:{h.hexdigest()[:40]}"


def model_id(embedder: Embedder) -> str:
    """Names the embedding space, so vectors of another model are never compared."""
    name = getattr(embedder, "model_id", None) or type(embedder).__name__
    return f"{name}/{embedder.dim}"


@dataclass(frozen=True, slots=True)
class Query:
    """A turn's search: the player's line alone and with the last exchange."""

    vectors: Vectors  # shape (n, dim)
    words: frozenset[str] = frozenset()  # the line's content words, names left out

    def best(self, corpora: Sequence[Corpus], k: int, min_score: float) -> list[Hit]:
        return search(corpora, self.vectors, k, min_score, self.words)


class KnowledgeBase:
    """Embeds knowledge at deploy; finds it each turn."""

    def __init__(self, store: Store, embedder: Embedder, *, cache_bytes: int = CACHE_BYTES):
        self.store = store
        self.embedder = embedder
        self.model = model_id(embedder)
        self._corpora: OrderedDict[str, Corpus] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._sets: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        self._preparing: dict[tuple[str, str, int], asyncio.Lock] = {}

    # -- at deploy ----------------------------------------------------------------------

    async def prepare(self, operation: Operation, resource: Any) -> None:
        """The deploy ``Preparer``: embed and store what this version will search."""
        if isinstance(resource, Character):
            corpora = await self._character_set(
                operation.workspace, _resource_id(operation), resource
            )
            kind = ResourceKind.CHARACTER.value
        elif isinstance(resource, Scene):
            corpora = {"common": await self._common(operation.workspace, resource.common_knowledge)}
            kind = ResourceKind.SCENE.value
        else:
            return
        await self.store.vectors.put_set(
            operation.workspace, kind, _resource_id(operation), operation.version, corpora
        )

    async def _character_set(
        self, workspace: str, character_id: str, character: Character
    ) -> dict[str, Any]:
        facts = [f.text.strip() for f in character.personal_knowledge.facts if f.text.strip()]
        scenes: dict[str, list[dict[str, str]]] = {}
        for scene in await self.store.scenes.all(workspace):
            refs = {
                parse_reference(r, workspace, ResourceKind.CHARACTER)
                for r in scene.character_refs()
            }
            if character_id in refs and scene.common_knowledge:
                scenes[scene.id] = await self._common(workspace, scene.common_knowledge)
        return {
            "personal": await self._embed_corpus(facts, "personal knowledge") if facts else None,
            "common": await self._common(workspace, character.common_knowledge),
            "scenes": scenes,
        }

    async def _common(self, workspace: str, refs: Sequence[str]) -> list[dict[str, str]]:
        out = []
        for ref in refs:
            kid = parse_reference(ref, workspace, ResourceKind.COMMON_KNOWLEDGE)
            knowledge: CommonKnowledge | None = (
                await self.store.knowledge.get(workspace, kid) if kid else None
            )
            if knowledge is None:
                continue  # the deploy's own checks name a missing reference
            texts = [r.text.strip() for r in knowledge.knowledge_records if r.text.strip()]
            if texts:
                key = await self._embed_corpus(texts, f"common knowledge {kid!r}")
                out.append({"id": knowledge.id, "key": key})
        return out

    async def _embed_corpus(self, texts: list[str], what: str) -> str:
        key = _digest(self.model, texts)
        if await self.store.vectors.has_corpus(key):
            return key
        started = time.monotonic()
        parts = []
        try:
            for i in range(0, len(texts), EMBED_BATCH):
                parts.append(await self.embedder.embed(texts[i : i + EMBED_BATCH]))
                if len(texts) > 1000 and (i // EMBED_BATCH) % 32 == 0:
                    log.info("embedding %s: %d of %d facts", what, i, len(texts))
        except AnimaError as exc:
            raise FailedPrecondition(
                f"could not embed the {what} ({exc.message}); check the embedding backend "
                "(ANIMA_EMBED_BACKEND) and deploy again"
            ) from exc
        except Exception as exc:
            raise FailedPrecondition(
                f"could not embed the {what} ({type(exc).__name__}: {exc}); check the "
                "embedding backend (ANIMA_EMBED_BACKEND) and deploy again"
            ) from exc
        vectors = np.vstack(parts).astype(np.float32)
        await self.store.vectors.put_corpus(
            key, self.model, Corpus(what, tuple(texts), vectors), time.time()
        )
        log.info(
            "embedded %d facts of the %s in %.1fs", len(texts), what, time.monotonic() - started
        )
        return key

    # -- each turn ----------------------------------------------------------------------

    async def query(self, texts: Sequence[str], words: frozenset[str] = frozenset()) -> Query:
        return Query(await self.embedder.embed([t for t in texts if t.strip()] or [""]), words)

    async def corpora(
        self, workspace: str, character: Character, version: int, scene: tuple[str, int] | None
    ) -> list[Corpus]:
        """What the character searches in this session (``scene``: its id and version)."""
        mine = await self._character(workspace, character, version)
        entries: list[tuple[str, str]] = []
        if mine.get("personal"):
            entries.append(("personal", mine["personal"]))
        entries += [(c["id"], c["key"]) for c in mine.get("common", ())]
        if scene is not None:
            scene_id, scene_version = scene
            held = await self._set((workspace, ResourceKind.SCENE.value, scene_id, scene_version))
            scene_common = (held or {}).get("common") or mine.get("scenes", {}).get(scene_id, ())
            entries += [(c["id"], c["key"]) for c in scene_common]
        out = []
        for source, key in entries:
            corpus = await self._corpus(key, source)
            if corpus is not None:
                out.append(corpus)
        return out

    async def _set(self, key: tuple[str, str, str, int]) -> dict[str, Any] | None:
        """A deployed version's knowledge set; versions never change, so each is read once."""
        found = self._sets.get(key)
        if found is None:
            found = await self.store.vectors.get_set(*key)
            if found is not None:
                self._sets[key] = found
        return found

    async def _character(
        self, workspace: str, character: Character, version: int
    ) -> dict[str, Any]:
        key = (workspace, ResourceKind.CHARACTER.value, character.id, version)
        found = await self._set(key)
        if found is None:
            lock = self._preparing.setdefault((workspace, character.id, version), asyncio.Lock())
            async with lock:
                found = await self._set(key)
                if found is None:  # deployed without vectors: embed them now, once
                    log.info("embedding the knowledge of %s version %d", character.id, version)
                    found = await self._character_set(workspace, character.id, character)
                    await self.store.vectors.put_set(*key, found)
                    self._sets[key] = found
            self._preparing.pop((workspace, character.id, version), None)
        return found

    async def _corpus(self, key: str, source: str) -> Corpus | None:
        corpus = self._corpora.get(key)
        if corpus is not None:
            self._corpora.move_to_end(key)
            return corpus.named(source)
        corpus = await self.store.vectors.corpus(key, source)
        if corpus is None:
            log.warning("knowledge corpus %s is missing from the store", key)
            return None
        self._corpora[key] = corpus
        while (
            sum(c.vectors.nbytes for c in self._corpora.values()) > self._cache_bytes
            and len(self._corpora) > 1
        ):
            self._corpora.popitem(last=False)
        return corpus


def _resource_id(operation: Operation) -> str:
    return operation.resource.rsplit("/", 1)[-1]


@dataclass(slots=True)
class Memory:
    """Long-term memory of each player, per character."""

    store: Store
    embedder: Embedder
    clock: Any = time.time
    _pending: set[asyncio.Task[Any]] = field(default_factory=set)

    async def recall(
        self,
        query: Query,
        workspace: str,
        character_id: str,
        end_user_id: str,
        player: str,
        k: int,
        min_score: float,
    ) -> list[Hit]:
        known = await self.store.memories.of_player(workspace, character_id, end_user_id)
        if not known:
            return []
        dim = self.embedder.dim
        corpus = Corpus(
            "memory",
            tuple(mem.spoken(m.text, player or m.player_name) for m in known),
            np.vstack([from_bytes(m.vector, dim) for m in known]),
        )
        return query.best([corpus], k, min_score)

    def remember_later(
        self,
        workspace: str,
        character_id: str,
        end_user_id: str,
        session_id: str,
        interaction_id: str,
        line: str,
        player: str,
    ) -> None:
        """Extract and store what ``line`` says about the player, off the reply path."""
        if not end_user_id or not mem.extract(line):
            return
        task = asyncio.get_running_loop().create_task(
            self.remember(
                workspace, character_id, end_user_id, session_id, interaction_id, line, player
            )
        )
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not store a memory: %s", task.exception())

    async def settle(self) -> None:
        """Wait for the memories still being stored (at shutdown, and in tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def edit(self, memory: StoredMemory, text: str) -> None:
        """A developer's correction: the new text, embedded again."""
        name = memory.player_name
        stored = text.replace(name, mem.PLAYER) if name else text
        vector = await self.embedder.embed([text])
        await self.store.memories.replace(
            memory.id,
            text=stored,
            vector=to_bytes(vector),
            session_id=memory.session_id,
            interaction_id=memory.interaction_id,
            now=self.clock(),
        )

    async def remember(
        self,
        workspace: str,
        character_id: str,
        end_user_id: str,
        session_id: str,
        interaction_id: str,
        line: str,
        player: str,
    ) -> list[mem.Decision]:
        candidates = mem.extract(line)
        if not candidates or not end_user_id:
            return []
        vectors = await self.embedder.embed([mem.spoken(c.text, player) for c in candidates])
        known = await self.store.memories.of_player(workspace, character_id, end_user_id)
        dim = self.embedder.dim
        matrix = np.vstack([from_bytes(m.vector, dim) for m in known]) if known else None
        decisions = []
        start = self.clock()
        for i, (candidate, vector) in enumerate(zip(candidates, vectors, strict=True)):
            now = start + i * 1e-6  # keeps the order they were said in
            similarity = (matrix @ vector).tolist() if matrix is not None else []
            decision = mem.reconcile(
                candidate, [mem.Known(m.id, m.slot, m.text) for m in known], similarity
            )
            decisions.append(decision)
            if decision.action is mem.Action.ADD:
                await self.store.memories.add(
                    StoredMemory(
                        id=uuid.uuid4().hex,
                        workspace=workspace,
                        character_id=character_id,
                        end_user_id=end_user_id,
                        slot=candidate.slot,
                        text=candidate.text,
                        player_name=player,
                        vector=to_bytes(vector.reshape(1, -1)),
                        session_id=session_id,
                        interaction_id=interaction_id,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                assert decision.target is not None
                await self.store.memories.replace(
                    decision.target,
                    text=candidate.text,
                    vector=to_bytes(vector.reshape(1, -1)),
                    session_id=session_id,
                    interaction_id=interaction_id,
                    now=now,
                    slot=candidate.slot,
                )
        if any(d.action is mem.Action.ADD for d in decisions):
            await self.store.memories.trim(workspace, character_id, end_user_id, mem.MAX_MEMORIES)
        return decisions


@dataclass(frozen=True, slots=True)
class Recollection:
    """What a turn found: facts and memories for the prompt, what to do with an unanswerable
    question of fact, and the trace a developer sees."""

    knowledge: tuple[str, ...] = ()
    memories: tuple[str, ...] = ()
    knowing: Knowing = Knowing.ANSWER
    trace: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecallSettings:
    knowledge_top_k: int = 5
    knowledge_min_score: float = 0.4
    memory_top_k: int = 3
    memory_min_score: float = 0.4
    memory_enabled: bool = True


class Recall:
    """The knowledge and memory stages of a turn, and what the turn leaves to memory."""

    def __init__(self, knowledge: KnowledgeBase, memory: Memory, settings: RecallSettings) -> None:
        self.knowledge = knowledge
        self.memory = memory
        self.settings = settings

    @classmethod
    def create(cls, store: Store, embedder: Embedder, settings: Settings) -> Recall:
        return cls(
            KnowledgeBase(store, embedder),
            Memory(store, embedder),
            RecallSettings(
                knowledge_top_k=settings.knowledge_top_k,
                knowledge_min_score=settings.knowledge_min_score,
                memory_top_k=settings.memory_top_k,
                memory_min_score=settings.memory_min_score,
                memory_enabled=settings.memory_enabled,
            ),
        )

    def remembers(self, character: Character, end_user_id: str) -> bool:
        return (
            self.settings.memory_enabled
            and character.long_term_coherence.enabled
            and bool(end_user_id)
        )

    async def for_turn(
        self,
        *,
        workspace: str,
        character: Character,
        version: int,
        scene: tuple[str, int] | None,
        end_user_id: str,
        player: str,
        text: str,
        context: Sequence[str],
        persona: Sequence[str],
    ) -> Recollection:
        """``context``: the last lines of the conversation, oldest first; ``persona``: texts
        of the character's own description (what it knows without retrieval)."""
        if not text.strip():
            return Recollection()
        s = self.settings
        d = character.description
        me = d.name_or_default
        line = third_person(text, me, player)
        recent = " ".join(third_person(t, me, player) for t in context[-2:])
        names = content_words(f"{me} {player}")
        query = await self.knowledge.query(
            [
                line,  # the line alone, "you" and "I" as names
                f"{recent} {line}" if recent else "",  # with the last exchange
                f"{me}, {d.character_role}: {line}" if d.character_role.strip() else "",
            ],
            content_words(text, names),
        )
        corpora = await self.knowledge.corpora(workspace, character, version, scene)
        facts = query.best(corpora, s.knowledge_top_k, s.knowledge_min_score)
        memories: list[Hit] = []
        if self.remembers(character, end_user_id):
            memories = await self.memory.recall(
                query,
                workspace,
                character.id,
                end_user_id,
                player,
                s.memory_top_k,
                s.memory_min_score,
            )
        grounded = bool(facts or memories) or cognition.grounded_in(text, [*persona, *context])
        trace: dict[str, Any] = {}
        if facts:
            trace["knowledge"] = [
                {"text": h.text, "score": round(h.score, 3), "source": h.source} for h in facts
            ]
        if memories:
            trace["memories"] = [{"text": h.text, "score": round(h.score, 3)} for h in memories]
        knowing = cognition.decide(character.cognitive_control, text, grounded=grounded)
        if knowing is not Knowing.ANSWER:
            trace["cognitiveControl"] = knowing.value
        return Recollection(
            knowledge=tuple(h.text for h in facts),
            memories=tuple(h.text for h in memories),
            knowing=knowing,
            trace=trace,
        )

    def after_turn(
        self,
        *,
        workspace: str,
        character: Character,
        end_user_id: str,
        session_id: str,
        interaction_id: str,
        text: str,
        player: str,
    ) -> None:
        """Leave what the player said to long-term memory, off the reply path."""
        if text.strip() and self.remembers(character, end_user_id):
            self.memory.remember_later(
                workspace, character.id, end_user_id, session_id, interaction_id, text, player
            )
