"""What a streaming session keeps between packets and between connections, without I/O.

``StreamPhase`` is the handshake of one connection (streaming-protocol.md §3)::

    CONNECTED ──configure──▶ CONFIGURED ──load scene──▶ READY ──▶ (configure, load, turns...)
        │                                                 ▲
        ├──────────────────── load scene ─────────────────┤
        └──── resume (the session id is already known) ───┘
    any ──close──▶ CLOSED

``StreamState`` is the transport state of a *session* (not of a connection): capabilities,
user and client, conversations and their mute. It is stored as ``Session.stream_state`` so a
client reconnecting with the same session id, to any worker and over either face, finds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from anima.domain.inputs import ActorKind, Capabilities, ClientInfo, Participant, UserInfo
from anima.domain.session import Player
from anima.errors import FailedPrecondition

_VERSION = 1
_MAX_LATENCIES = 20


class StreamPhase(StrEnum):
    CONNECTED = "connected"  # transport open, nothing known about the scene yet
    CONFIGURED = "configured"  # SESSION_CONFIGURATION received, no scene loaded yet
    READY = "ready"  # a scene is loaded (now, or in an earlier connection)
    CLOSED = "closed"

    def advance(self, to: StreamPhase) -> StreamPhase:
        """The phase after a legal move to ``to``; raises on an illegal one."""
        if to not in _MOVES[self]:
            raise IllegalMove(f"a streaming session cannot go from {self.value} to {to.value}")
        return to


_MOVES: dict[StreamPhase, frozenset[StreamPhase]] = {
    StreamPhase.CONNECTED: frozenset(
        {StreamPhase.CONFIGURED, StreamPhase.READY, StreamPhase.CLOSED}
    ),
    StreamPhase.CONFIGURED: frozenset(
        {StreamPhase.CONFIGURED, StreamPhase.READY, StreamPhase.CLOSED}
    ),
    StreamPhase.READY: frozenset({StreamPhase.READY, StreamPhase.CLOSED}),
    StreamPhase.CLOSED: frozenset(),
}


class IllegalMove(FailedPrecondition):
    """A packet arrived that the session's phase does not allow."""


@dataclass(slots=True)
class Conversation:
    participants: tuple[Participant, ...]
    muted: bool = False  # TTS_PLAYBACK_MUTE: no audio for this conversation

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(p.agent_id for p in self.participants if p.kind is ActorKind.AGENT)


@dataclass(slots=True)
class StreamState:
    capabilities: Capabilities = field(default_factory=Capabilities)
    configured: bool = False  # a SESSION_CONFIGURATION was ever received
    user: UserInfo | None = None
    client: ClientInfo | None = None
    game_session_id: str = ""
    conversations: dict[str, Conversation] = field(default_factory=dict)
    last_interaction_id: str = ""  # the client's id of the last finished interaction
    latencies: list[dict[str, Any]] = field(default_factory=list)  # perceived, newest last

    def record_latency(self, interaction_id: str, seconds: float, precision: str) -> None:
        self.latencies.append(
            {"interactionId": interaction_id, "seconds": seconds, "precision": precision}
        )
        del self.latencies[:-_MAX_LATENCIES]

    def drop_agents(self, agent_ids: set[str]) -> None:
        """Characters left the scene: take them out of every conversation."""
        for conversation in self.conversations.values():
            conversation.participants = tuple(
                p for p in conversation.participants if p.agent_id not in agent_ids
            )

    def to_dict(self) -> dict[str, Any]:
        caps = self.capabilities
        return {
            "v": _VERSION,
            "capabilities": [n for n in Capabilities.names() if getattr(caps, n)],
            "configured": self.configured,
            "user": None
            if self.user is None
            else {"id": self.user.id, "name": self.user.name, "profile": list(self.user.profile)},
            "client": None
            if self.client is None
            else {
                "id": self.client.id,
                "version": self.client.version,
                "description": self.client.description,
            },
            "gameSessionId": self.game_session_id,
            "conversations": {
                cid: {
                    "participants": [[p.kind.value, p.agent_id] for p in c.participants],
                    "muted": c.muted,
                }
                for cid, c in self.conversations.items()
            },
            "lastInteractionId": self.last_interaction_id,
            "latencies": list(self.latencies),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> StreamState:
        if not data or data.get("v") != _VERSION:
            return cls()
        known = set(Capabilities.names())
        caps = Capabilities(**{n: True for n in data.get("capabilities", ()) if n in known})
        user = data.get("user")
        client = data.get("client")
        return cls(
            capabilities=caps,
            configured=bool(data.get("configured")),
            user=None
            if not isinstance(user, dict)
            else UserInfo(
                str(user.get("id", "")),
                str(user.get("name", "")),
                tuple((str(k), str(v)) for k, v in user.get("profile", ())),
            ),
            client=None
            if not isinstance(client, dict)
            else ClientInfo(**{f.name: str(client.get(f.name, "")) for f in fields(ClientInfo)}),
            game_session_id=str(data.get("gameSessionId", "")),
            conversations={
                str(cid): Conversation(
                    tuple(Participant(ActorKind(k), str(a)) for k, a in c.get("participants", ())),
                    bool(c.get("muted")),
                )
                for cid, c in (data.get("conversations") or {}).items()
            },
            last_interaction_id=str(data.get("lastInteractionId", "")),
            latencies=list(data.get("latencies") or []),
        )


def player_of(user: UserInfo | None, base: Player | None = None) -> Player:
    """The engine's player from the client's user configuration."""
    base = base or Player()
    if user is None:
        return base
    return replace(
        base,
        end_user_id=user.id or base.end_user_id,
        full_name=user.name or base.full_name,
        profile=user.profile or base.profile,
    )
