"""The REST proxy's exact shapes: request validation texts, characters and queued events.

The platform's Node.js RESTful proxy validates bodies with joi (through express-joi-validation)
and queues events built by its EventFactory; clients parse both, so they are reproduced here
byte for byte (spec rest-proxy.md §2, §4)::

    validate(body, OPEN_SCHEMA)     -> None | 'Error validating request body. "uid" is required.'
    character_json(agent, ws)       -> {"id", "resourceName", "displayName"}
    ProxyEvents.text / emotion / custom / disconnected   -> the event dicts, keys in order
    encode(queued)                  -> the event dict of a queued ``ProxyEvent``

Nothing here knows the store or the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anima.domain.events import EmotionChanged, SpaffCode, Strength, Utterance
from anima.domain.proxy import ProxyEvent
from anima.domain.session import SessionCharacter


@dataclass(frozen=True, slots=True)
class Key:
    """One body key of a joi object schema: ``Joi.string()``, required or ``allow('')``."""

    name: str
    required: bool = False
    allow_empty: bool = False


OPEN_SCHEMA = (
    Key("uid", required=True),
    Key("sceneId", required=True),
    Key("characterId", allow_empty=True),
    Key("playerName", allow_empty=True),
    Key("serverId", allow_empty=True),
)
MESSAGE_SCHEMA = (Key("message", required=True),)


def validate(body: Any, schema: tuple[Key, ...]) -> str | None:
    """The proxy's 400 text for ``body`` (abortEarly false: every error, schema keys first,
    unknown keys last), or None when it is valid."""
    if not isinstance(body, Mapping):
        return _failed(['"value" must be of type object'])
    problems: list[str] = []
    for key in schema:
        if key.name not in body:
            if key.required:
                problems.append(f'"{key.name}" is required')
            continue
        value = body[key.name]
        if not isinstance(value, str):
            problems.append(f'"{key.name}" must be a string')
        elif value == "" and not key.allow_empty:
            problems.append(f'"{key.name}" is not allowed to be empty')
    known = {key.name for key in schema}
    problems.extend(f'"{name}" is not allowed' for name in body if name not in known)
    return _failed(problems) if problems else None


def _failed(problems: list[str]) -> str:
    return "Error validating request body." + "".join(f" {p}." for p in problems)


def character_json(character: SessionCharacter, workspace: str) -> dict[str, str]:
    """A character as SDK 0.9.x shows it (no ``assets``: they came in SDK 1.1)."""
    return {
        "id": character.agent_id,
        "resourceName": character.resource(workspace),
        "displayName": character.display_name,
    }


def behavior_name(code: SpaffCode) -> str:
    """``TENSE_HUMOR`` -> ``TenseHumor`` (helpers.getBehavior); unspecified is Neutral."""
    if code is SpaffCode.SPAFF_CODE_UNSPECIFIED:
        return "Neutral"
    return "".join(word.capitalize() for word in code.name.split("_"))


_STRENGTHS = {Strength.WEAK: "Weak", Strength.STRONG: "Strong"}


@dataclass(frozen=True, slots=True)
class ProxyEvents:
    """Builds the events of one session, tagged with its ids at the time they are built."""

    session_id: str
    uid: str
    server_id: str | None

    def _head(self, kind: str) -> dict[str, Any]:
        head: dict[str, Any] = {"type": kind, "sessionId": self.session_id, "uid": self.uid}
        if self.server_id is not None:
            head["serverId"] = self.server_id
        return head

    def text(self, text: str) -> dict[str, Any]:
        return {**self._head("text"), "final": True, "text": text}

    def emotion(self, event: EmotionChanged) -> dict[str, Any]:
        # joy/fear/trust/surprise: deprecated proto fields, always their default 0 (§5 item 16).
        body = {**self._head("emotion"), "joy": 0, "fear": 0, "trust": 0, "surprise": 0}
        body["behavior"] = behavior_name(event.behavior)
        strength = _STRENGTHS.get(event.strength)
        if strength is not None:  # UNSPECIFIED/NORMAL: the key is left out
            body["strength"] = strength
        return body

    def custom(self, name: str) -> dict[str, Any]:
        return {**self._head("custom"), "name": name}

    def disconnected(self) -> dict[str, Any]:
        return self._head("disconnected")


def encode(queued: ProxyEvent) -> dict[str, Any]:
    """A queued event as the proxy's ``GET /events`` returns it; an utterance that continues
    its reply starts with a space, as in the original's example."""
    build = ProxyEvents(queued.session_id, queued.uid, queued.server_id)
    event = queued.event
    if event is None:
        return build.disconnected()
    if isinstance(event, Utterance):
        text = event.text
        return build.text(f" {text}" if queued.continued and not text[:1].isspace() else text)
    if isinstance(event, EmotionChanged):
        return build.emotion(event)
    return build.custom(event.name)
