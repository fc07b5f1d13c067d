"""Session state a client keeps for us: exported sealed, restored into a new session.

``GET /v1/workspaces/{ws}/sessions/{sid}/state`` (WebSocket face) and ``GetSessionState``
(gRPC face) both serve ``SessionStates.export``; either SDK later sends the bytes back as
``continuation.externallySavedState`` and the streaming core calls ``restore`` on the new
session. The blob holds what moves during a conversation: the recent interactions, each
character's mood and goal state, the relationship with the player and what the characters
remember of the player (long-term memory). It is opaque to the
client: JSON, zlib-compressed, sealed with AES-256-GCM under a random server key kept in the
store (``server_values``), the workspace bound as associated data. A client can neither read
nor forge it, and a state from one workspace does not open in another.

    blob = 0x01 | nonce (12 bytes) | AES-GCM(zlib(JSON))

Characters are matched by character id, not agent id: the new session's agents have new ids.
``restore_dialog`` is the other continuation (``previousDialog``): plain lines the client kept.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from anima.domain.inputs import ActorKind, DialogTurn
from anima.domain.session import Interaction, Session
from anima.errors import InvalidArgument
from anima.pipeline.engine import Engine
from anima.store.memory import StoredMemory

_KEY_NAME = "session_state_key"
_VERSION = b"\x01"
_NONCE = 12
_AAD = b"anima session state\0"
_HISTORY = 50
_MEMORIES = 100  # per character: the most recently kept
_RESTORE_OWNER = "restore"


@dataclass(frozen=True, slots=True)
class SavedState:
    blob: bytes
    created_at: float
    interaction_id: str  # the last finished interaction (client's id), "" when none


class SessionStates:
    """Exports and restores sealed session states. One per process, shared by the faces."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._store = engine.store
        self._clock = clock
        self._key: bytes | None = None

    async def export(self, workspace: str, session_id: str) -> SavedState:
        """The session's state, sealed; raises NotFound for an unknown or expired session."""
        session = await self._engine.get_session(workspace, session_id)
        history = await self._store.sessions.history(session_id, limit=_HISTORY)
        by_agent = {c.agent_id: c.character_id for c in session.characters}
        relationships: dict[str, Any] = {}
        memories: dict[str, list[dict[str, Any]]] = {}
        if session.player.end_user_id:
            for c in session.characters:
                rel = await self._store.relationships.get(
                    workspace, session.player.end_user_id, c.character_id
                )
                if rel:
                    relationships[c.character_id] = rel
                kept = await self._store.memories.of_player(
                    workspace, c.character_id, session.player.end_user_id
                )
                if kept:
                    memories[c.character_id] = [_memory_json(m) for m in kept[-_MEMORIES:]]
        now = self._clock()
        payload = {
            "ws": workspace,
            "sid": session_id,
            "at": now,
            "scene": session.loaded_scene,
            "minds": {
                by_agent[agent]: state
                for agent, state in session.agent_state.items()
                if agent in by_agent
            },
            "history": [_interaction_json(i, by_agent.get(i.agent_id, "")) for i in history],
            "relationships": relationships,
            "memories": memories,
        }
        last = str(session.stream_state.get("lastInteractionId") or "")
        return SavedState(await self._seal(workspace, payload), now, last)

    async def restore(self, session: Session, blob: bytes) -> Session:
        """Put a sealed state into a new session: history, minds and relationships."""
        payload = await self._open(session.workspace, blob)
        agents = {c.character_id: c.agent_id for c in session.characters}
        first = session.characters[0].agent_id if session.characters else ""
        for character_id, state in (payload.get("minds") or {}).items():
            if character_id in agents and isinstance(state, dict):
                session.agent_state[agents[character_id]] = state
        await self._store.sessions.save_state(session, touch=self._clock())
        for item in payload.get("history") or []:
            character_id = str(item.get("c", ""))
            agent = agents.get(character_id) if character_id else first
            if agent:  # lines of characters not in the new session are left out
                await self._commit(session, _interaction_of(item, session.id, agent))
        if session.player.end_user_id:
            for character_id, rel in (payload.get("relationships") or {}).items():
                if character_id in agents and isinstance(rel, dict):
                    await self._store.relationships.put(
                        session.workspace,
                        session.player.end_user_id,
                        character_id,
                        rel,
                        self._clock(),
                    )
            for character_id, items in (payload.get("memories") or {}).items():
                if character_id in agents and isinstance(items, list):
                    await self._restore_memories(session, character_id, items)
        return session

    async def _restore_memories(
        self, session: Session, character_id: str, items: list[Any]
    ) -> None:
        """The player's memories travel with the state: what the store does not already hold
        about the same thing (slot) is added for the new session's player."""
        player = session.player.end_user_id
        held = await self._store.memories.of_player(session.workspace, character_id, player)
        slots = {m.slot for m in held}
        for item in items:
            if not isinstance(item, dict) or item.get("slot") in slots:
                continue
            try:
                memory = StoredMemory(
                    id=uuid.uuid4().hex,
                    workspace=session.workspace,
                    character_id=character_id,
                    end_user_id=player,
                    slot=str(item["slot"]),
                    text=str(item["text"]),
                    player_name=str(item.get("name", "")),
                    vector=base64.b64decode(item["v"]),
                    session_id=session.id,
                    interaction_id=str(item.get("iid", "")),
                    created_at=float(item.get("at", self._clock())),
                    updated_at=float(item.get("at", self._clock())),
                )
            except (KeyError, ValueError, TypeError):
                continue
            slots.add(memory.slot)
            await self._store.memories.add(memory)

    async def restore_dialog(self, session: Session, turns: Sequence[DialogTurn]) -> Session:
        """Put a dialog the client kept (player and character lines) into a new session."""
        if not session.characters:
            return session
        known = {c.agent_id for c in session.characters}
        first = session.characters[0].agent_id
        current: dict[str, Any] | None = None
        for turn in turns[-2 * _HISTORY :]:
            if not turn.text.strip():
                continue
            if turn.speaker is ActorKind.PLAYER or current is None:
                if current is not None:
                    await self._commit_dialog(session, current)
                current = {"agent": first, "input": "", "texts": []}
                if turn.speaker is ActorKind.PLAYER:
                    current["input"] = turn.text
                    continue
            if turn.speaker is ActorKind.AGENT:
                if turn.agent_id in known:
                    current["agent"] = turn.agent_id
                current["texts"].append(turn.text)
        if current is not None:
            await self._commit_dialog(session, current)
        return session

    async def _commit_dialog(self, session: Session, item: dict[str, Any]) -> None:
        interaction = Interaction(
            id=str(uuid.uuid4()),
            session_id=session.id,
            agent_id=item["agent"],
            seq=-1,
            created_at=self._clock(),
            input_kind="text",
            input_text=item["input"],
            texts=tuple(item["texts"]),
            narrated=(False,) * len(item["texts"]),
        )
        await self._commit(session, interaction)

    async def _commit(self, session: Session, interaction: Interaction) -> None:
        await self._store.sessions.commit_turn(session, interaction, _RESTORE_OWNER, self._clock())

    # -- sealing -----------------------------------------------------------------------------

    async def _seal(self, workspace: str, payload: dict[str, Any]) -> bytes:
        plain = zlib.compress(json.dumps(payload, separators=(",", ":")).encode())
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(await self._secret()).encrypt(nonce, plain, _AAD + workspace.encode())
        return _VERSION + nonce + sealed

    async def _open(self, workspace: str, blob: bytes) -> dict[str, Any]:
        if blob[:1] != _VERSION or len(blob) < 1 + _NONCE + 16:
            raise InvalidArgument(
                "continuation.externallySavedState is not a state this server exported "
                "(get one from GET /v1/workspaces/{ws}/sessions/{session}/state)",
                field="continuation.externallySavedState",
            )
        nonce, sealed = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
        try:
            plain = AESGCM(await self._secret()).decrypt(nonce, sealed, _AAD + workspace.encode())
            payload = json.loads(zlib.decompress(plain))
        except (InvalidTag, zlib.error, ValueError) as exc:
            raise InvalidArgument(
                "continuation.externallySavedState does not open: it was changed, or exported "
                "by another server or for another workspace",
                field="continuation.externallySavedState",
            ) from exc
        if not isinstance(payload, dict):
            raise InvalidArgument("continuation.externallySavedState is malformed")
        return payload

    async def _secret(self) -> bytes:
        if self._key is None:
            self._key = await self._store.values.get_or_create(_KEY_NAME, os.urandom(32))
        return self._key


def _interaction_json(i: Interaction, character_id: str) -> dict[str, Any]:
    return {
        "c": character_id,
        "k": i.input_kind,
        "i": i.input_text,
        "t": i.trigger,
        "p": [list(p) for p in i.parameters],
        "x": list(i.texts),
        "n": list(i.narrated),
        "e": list(i.emotion),
        "o": [[name, [list(p) for p in params]] for name, params in i.triggers_out],
        "z": i.cancelled,
        "at": i.created_at,
    }


def _interaction_of(item: dict[str, Any], session_id: str, agent_id: str) -> Interaction:
    emotion = item.get("e") or ["NEUTRAL", "NORMAL"]
    return Interaction(
        id=str(uuid.uuid4()),
        session_id=session_id,
        agent_id=agent_id,
        seq=-1,
        created_at=float(item.get("at") or 0.0),
        input_kind=str(item.get("k", "text")),
        input_text=str(item.get("i", "")),
        trigger=str(item.get("t", "")),
        parameters=tuple((str(a), str(b)) for a, b in item.get("p") or ()),
        texts=tuple(str(t) for t in item.get("x") or ()),
        narrated=tuple(bool(n) for n in item.get("n") or ()),
        emotion=(str(emotion[0]), str(emotion[1])),
        triggers_out=tuple(
            (str(name), tuple((str(a), str(b)) for a, b in params))
            for name, params in item.get("o") or ()
        ),
        cancelled=bool(item.get("z")),
    )


def _memory_json(m: StoredMemory) -> dict[str, Any]:
    return {
        "slot": m.slot,
        "text": m.text,
        "name": m.player_name,
        "v": base64.b64encode(m.vector).decode(),
        "iid": m.interaction_id,
        "at": m.updated_at,
    }
