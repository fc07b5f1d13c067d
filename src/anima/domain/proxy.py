"""A REST proxy session: the proxy's handle on one Anima session (spec rest-proxy.md §3).

The proxy keys its sessions by ``uid`` (its caller's player id, never sent to the engine),
scene, requested character and ``serverId``; its ``id`` is the Anima session's own id, so the
conversation can also be read through the engine REST API.

What a turn says is queued for the proxy's callers as ``ProxyEvent``s, kept in the store as
``to_dict()`` data (no wire shape: wire/proxy.py encodes them when they are drained).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anima.domain import events
from anima.domain.events import EmotionChanged, TriggerFired, Utterance


@dataclass(frozen=True, slots=True)
class ProxySession:
    id: str  # the Anima session id, "{workspace}:{uuid}"
    workspace: str
    uid: str
    scene_id: str  # as the caller gave it
    character_key: str | None  # characterId as given (None: omitted), or the one set later
    server_id: str | None  # None: no serverId (events then carry none)
    agent_id: str  # the current character
    created_at: float

    def duplicates(
        self, uid: str, scene_id: str, character_key: str | None, server_id: str | None
    ) -> bool:
        """The proxy's duplicate rule: same uid, scene and stored characterId, and the same
        serverId only when the new request names one (an empty or absent one matches any)."""
        if (self.uid, self.scene_id, self.character_key) != (uid, scene_id, character_key):
            return False
        return not server_id or self.server_id == server_id


@dataclass(frozen=True, slots=True)
class ProxyEvent:
    """One event queued for the proxy's callers, with the proxy session's ids at the time it
    was queued (a later set-server does not move it)."""

    session_id: str
    uid: str
    server_id: str | None
    event: Utterance | EmotionChanged | TriggerFired | None  # None: the session is gone
    continued: bool = False  # an utterance after the first of its reply

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``serverId`` is where the store reads the row's server from."""
        return {
            "sessionId": self.session_id,
            "uid": self.uid,
            "serverId": self.server_id,
            "event": None if self.event is None else events.to_dict(self.event),
            "continued": self.continued,
        }

    @staticmethod
    def stored(data: Mapping[str, Any]) -> bool:
        """Was ``data`` queued as a ``to_dict()``? (Not: an event an older server queued in
        the wire's shape, with its ``type``.)"""
        return "event" in data and "type" not in data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProxyEvent:
        event = None if data["event"] is None else events.from_dict(data["event"])
        if not (event is None or isinstance(event, Utterance | EmotionChanged | TriggerFired)):
            raise ValueError(f"the proxy queues no {type(event).__name__}")
        return cls(
            session_id=data["sessionId"],
            uid=data["uid"],
            server_id=data["serverId"],
            event=event,
            continued=bool(data.get("continued", False)),
        )
