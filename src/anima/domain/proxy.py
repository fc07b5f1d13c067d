"""A REST proxy session: the proxy's handle on one Anima session (spec rest-proxy.md §3).

The proxy keys its sessions by ``uid`` (its caller's player id, never sent to the engine),
scene, requested character and ``serverId``; its ``id`` is the Anima session's own id, so the
conversation can also be read through the engine REST API.
"""

from __future__ import annotations

from dataclasses import dataclass


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
