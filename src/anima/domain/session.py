"""Sessions: who is talking to which characters, and the per-character state that moves.

Pure values. The store persists them; the engine (pipeline/engine.py) drives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from anima.errors import NotFound


@dataclass(frozen=True, slots=True)
class Player:
    """The end user, as the client configured them."""

    end_user_id: str = ""
    given_name: str = ""
    gender: str = ""
    age: int | None = None
    role: str = ""
    full_name: str = ""
    profile: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.given_name or self.full_name or "Player"

    def to_dict(self) -> dict[str, Any]:
        return {
            "endUserId": self.end_user_id,
            "givenName": self.given_name,
            "gender": self.gender,
            "age": self.age,
            "role": self.role,
            "fullName": self.full_name,
            "profile": [list(p) for p in self.profile],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Player:
        return cls(
            end_user_id=str(data.get("endUserId") or ""),
            given_name=str(data.get("givenName") or ""),
            gender=str(data.get("gender") or ""),
            age=data.get("age"),
            role=str(data.get("role") or ""),
            full_name=str(data.get("fullName") or ""),
            profile=tuple((str(k), str(v)) for k, v in data.get("profile") or ()),
        )


@dataclass(frozen=True, slots=True)
class SessionCharacter:
    """One character loaded into a session, under its per-session agent id."""

    agent_id: str
    character_id: str
    version: int
    display_name: str
    avatar_img: str = ""
    avatar_img_original: str = ""

    def resource(self, workspace: str) -> str:
        return f"workspaces/{workspace}/characters/{self.character_id}"


class SessionKind(StrEnum):
    CHARACTER = "character"
    SCENE = "scene"


@dataclass(slots=True)
class Session:
    id: str  # "{workspace}:{uuid}"
    workspace: str
    kind: SessionKind
    loaded_scene: str  # resource name of the scene or character that was loaded
    characters: list[SessionCharacter]
    player: Player
    created_at: float
    last_active_at: float
    scene_version: int | None = None
    # Per-agent state that moves with the conversation (mood, goals, session-only changes)
    # and the transport-level state the streaming faces keep (capabilities, conversations).
    agent_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    stream_state: dict[str, Any] = field(default_factory=dict)

    def expired(self, now: float, ttl_seconds: float) -> bool:
        return now - self.last_active_at > ttl_seconds

    def character(self, agent_id: str) -> SessionCharacter:
        for c in self.characters:
            if c.agent_id == agent_id:
                return c
        raise NotFound(
            f"session '{self.id}' has no session character '{agent_id}'; use an agent id "
            "returned by openSession (sessionCharacters[].character)"
        )


@dataclass(frozen=True, slots=True)
class Interaction:
    """One exchange: what came in (text or trigger) and what the character did."""

    id: str
    session_id: str
    agent_id: str
    seq: int
    created_at: float
    input_kind: str  # "text" | "trigger" | "action"
    input_text: str
    trigger: str = ""
    parameters: tuple[tuple[str, str], ...] = ()
    texts: tuple[str, ...] = ()  # utterances and narrated actions in order
    narrated: tuple[bool, ...] = ()  # parallel to texts: True for a narrated action
    emotion: tuple[str, str] = ("NEUTRAL", "NORMAL")
    relationship: dict[str, int] = field(default_factory=dict)
    triggers_out: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    cancelled: bool = False
    fallback: bool = False  # the reply was the engine's deflection, not the model's words
    # What the brain did on this turn, for a developer to see why the character said what it
    # said: one JSON-ready entry per stage that has something to show ("knowledge",
    # "memories", "safety", ...). Never shown to the model.
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def reply(self) -> str:
        return " ".join(t for t, n in zip(self.texts, self.narrated, strict=False) if not n)
