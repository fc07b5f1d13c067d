"""The REST proxy's sessions over the engine: open, send, set character or server, close, events.

    ProxySessions(engine, settings)
      .open(uid, scene_id, character_id, player_name, server_id) -> (ProxySession, Session)
      .send(session, turn_input)        # 202: the turn runs in the background
      .set_character / .set_server / .close / .close_user
      .live(session_id)                 # the proxy session, if its Anima session still lives
      .drain(server_id)                 # the queued events

Each proxy session is an ordinary stored Anima session (``Engine.open_session``) plus a row in
``proxy_sessions``; what the character says is queued in ``proxy_events`` as ``ProxyEvent``s
(domain/proxy.py), tagged with the session's serverId at the moment each is queued; the face
(api/proxy.py) gives them the proxy's shape (wire/proxy.py) when they are drained. Turns run as
background tasks of the worker that accepted the message; they are serialised per session by
the engine's lease, like every other face's.

Decisions on the original's quirks (spec §5; README lists them): a failed open stores nothing
(no zombie); an expired Anima session is removed on its next use and queues ``disconnected``;
an explicit close queues nothing; the player's own text is never queued; continuation
sentences start with a space, as in the original's example.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from anima.domain.events import EmotionChanged, TriggerFired, Utterance
from anima.domain.proxy import ProxyEvent, ProxySession
from anima.domain.session import Player, Session, SessionCharacter
from anima.errors import AnimaError, InvalidArgument, NotFound
from anima.pipeline.engine import Engine
from anima.pipeline.job import TurnInput
from anima.settings import Settings

log = logging.getLogger("anima.proxy")


class OpenFailed(Exception):
    """The proxy's 409 "Unable to create session" (a duplicate, or the open failed)."""


class ProxySessions:
    """The proxy's operations; state in the store, background turns in this process."""

    def __init__(
        self, engine: Engine, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.settings = settings
        self.clock = clock
        self._turns: set[asyncio.Task[None]] = set()

    # -- sessions ----------------------------------------------------------------------------

    async def open(
        self,
        uid: str,
        scene_id: str,
        character_id: str | None,
        player_name: str | None,
        server_id: str | None,
        *,
        workspace: str | None = None,
    ) -> tuple[ProxySession, Session]:
        """A new session (``workspace``: the only one allowed, e.g. the proxy key's)."""
        for other in await self.store.proxy.of_user(uid, scene_id):
            if other.duplicates(uid, scene_id, character_id, server_id):
                raise OpenFailed(f"uid {uid!r} already has session {other.id} of {scene_id!r}")
        try:
            workspace, resource = self._resource(scene_id, workspace)
            player = Player(given_name=player_name or "", full_name=player_name or "")
            session = await self.engine.open_session(workspace, resource, player)
        except AnimaError as exc:
            raise OpenFailed(exc.message) from exc
        current = _pick(session.characters, character_id or "", workspace)
        opened = ProxySession(
            id=session.id,
            workspace=workspace,
            uid=uid,
            scene_id=scene_id,
            character_key=character_id,
            server_id=server_id,
            agent_id=current.agent_id if current else "",
            created_at=self.clock(),
        )
        await self.store.proxy.add(opened)
        return opened, session

    async def check_scene(self, scene_id: str) -> str | None:
        """Why ``scene_id`` (the default scene) cannot be opened, or None when it can."""
        try:
            workspace, resource = self._resource(scene_id)
            await self.engine.load_resource(workspace, resource)
        except AnimaError as exc:
            return exc.message
        return None

    def _resource(self, scene_id: str, allowed: str | None = None) -> tuple[str, str]:
        """(workspace, full resource name) of what the caller named."""
        configured = allowed or self.settings.proxy_workspace
        parts = scene_id.split("/")
        if len(parts) == 4 and parts[0] == "workspaces":
            if configured and parts[1] != configured:
                raise InvalidArgument(f"{scene_id!r} is not in workspace {configured!r}")
            return parts[1], scene_id
        if configured and scene_id and "/" not in scene_id:
            return configured, f"workspaces/{configured}/scenes/{scene_id}"
        raise InvalidArgument(
            f"sceneId {scene_id!r} is not 'workspaces/{{ws}}/scenes/{{id}}' (or a character)"
        )

    async def live(self, session_id: str) -> tuple[ProxySession, Session] | None:
        """The proxy session and its Anima session; None when either is gone. An Anima session
        that expired takes its proxy session with it, and queues ``disconnected``."""
        found = await self.store.proxy.get(session_id)
        if found is None:
            return None
        try:
            session = await self.engine.get_session(found.workspace, session_id)
        except NotFound:
            await self._lost(found, "its session expired")
            return None
        return found, session

    async def set_character(
        self, found: ProxySession, session: Session, character_id: str
    ) -> SessionCharacter | None:
        """Switch to the character named by resource name (or agent id); unchanged otherwise."""
        picked = _match(session.characters, character_id, found.workspace)
        if picked is not None:
            await self.store.proxy.change(
                found.id, agent_id=picked.agent_id, character_key=picked.resource(found.workspace)
            )
            return picked
        return current_character(session, found)

    async def set_server(self, found: ProxySession, server_id: str) -> None:
        await self.store.proxy.change(found.id, server_id=server_id)

    async def close(self, session_ids: list[str]) -> list[str]:
        return await self.store.proxy.remove(session_ids)

    async def close_user(self, uid: str, server_id: str | None = None) -> list[str]:
        mine = [
            s.id
            for s in await self.store.proxy.of_user(uid)
            if server_id is None or s.server_id == server_id
        ]
        return await self.close(mine)

    # -- turns and events ----------------------------------------------------------------------

    def send(self, found: ProxySession, turn_input: TurnInput) -> None:
        """Run the turn in the background; its events are queued as they come."""
        task = asyncio.create_task(self._turn(found, turn_input))
        self._turns.add(task)
        task.add_done_callback(self._turns.discard)

    async def _turn(self, found: ProxySession, turn_input: TurnInput) -> None:
        said = 0
        try:
            events = self.engine.turn(found.workspace, found.id, found.agent_id, turn_input)
            async for event in events:
                queued = await self._event(found.id, event, said)
                if isinstance(event, Utterance):
                    said += 1
                if queued is not None:
                    await self._push(queued)
        except NotFound:
            await self._lost(found, "its session expired")
        except AnimaError as exc:
            log.warning("proxy session %s: the turn failed: %s", found.id, exc.message)
        except Exception:
            log.exception("proxy session %s: the turn failed", found.id)

    async def _event(self, session_id: str, event: object, said: int) -> ProxyEvent | None:
        if not isinstance(event, Utterance | EmotionChanged | TriggerFired):
            return None  # INTERACTION_END, narrated actions, audio: the original drops them
        if isinstance(event, EmotionChanged) and not self.settings.proxy_emotions:
            return None
        found = await self.store.proxy.get(session_id)  # its serverId now (set-server)
        if found is None:
            return None  # closed meanwhile
        return ProxyEvent(found.id, found.uid, found.server_id, event, continued=said > 0)

    async def _lost(self, found: ProxySession, why: str) -> None:
        if await self.store.proxy.remove([found.id]):
            log.info("proxy session %s removed: %s", found.id, why)
            await self._push(ProxyEvent(found.id, found.uid, found.server_id, None))

    async def _push(self, event: ProxyEvent) -> None:
        dropped = await self.store.proxy.push(
            [event.to_dict()], limit=self.settings.proxy_queue_limit, now=self.clock()
        )
        if dropped:
            log.warning(
                "proxy event queue full (%d events): dropped the %d oldest; poll GET /events",
                self.settings.proxy_queue_limit,
                dropped,
            )

    async def drain(self, server_id: str | None = None) -> list[ProxyEvent | dict[str, Any]]:
        """The queued events, oldest first. A dict is one an older server queued, already in
        the wire's shape: it is delivered as it is."""
        return [
            ProxyEvent.from_dict(data) if ProxyEvent.stored(data) else data
            for data in await self.store.proxy.drain(server_id)
        ]

    async def idle(self) -> None:
        """Wait until no turn of this process is running."""
        while self._turns:
            await asyncio.wait(list(self._turns))

    async def shutdown(self) -> None:
        """Cancel the turns still running (the engine stores them as cancelled)."""
        turns = list(self._turns)
        for task in turns:
            task.cancel()
        if turns:
            await asyncio.wait(turns)


def _match(
    characters: list[SessionCharacter], character_id: str, workspace: str
) -> SessionCharacter | None:
    """By resource name (the original's rule) or agent id (a compatible superset, §5 item 11)."""
    for c in characters:
        if character_id in (c.resource(workspace), c.agent_id):
            return c
    return None


def _pick(
    characters: list[SessionCharacter], character_id: str, workspace: str
) -> SessionCharacter | None:
    """The named character, else the scene's first ("-1", "", a short id...)."""
    return _match(characters, character_id, workspace) or (characters[0] if characters else None)


def current_character(session: Session, found: ProxySession) -> SessionCharacter | None:
    return next((c for c in session.characters if c.agent_id == found.agent_id), None)
