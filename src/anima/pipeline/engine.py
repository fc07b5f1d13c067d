"""The session core every face shares: open sessions, run turns, keep state in the store.

A turn on a session runs under the session's lease (store/sessions.py), so turns on one
session never interleave, on one worker or many; different sessions run in parallel. The
turn is an async stream of domain events: the REST face collects it into an Interaction, the
streaming faces encode each event as packets. A turn that fails stores nothing: the session's
history and state stay as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from anima.backends.llm import PreparesPrompts
from anima.domain import emotion, relationship
from anima.domain.character import Character
from anima.domain.events import (
    EmotionChanged,
    Event,
    InteractionEnd,
    NarratedAction,
    RelationshipChanged,
    SpaffCode,
    Strength,
    TriggerFired,
    Utterance,
)
from anima.domain.goals import GoalState
from anima.domain.memory import spoken
from anima.domain.prompt import PromptInput, build_prompt
from anima.domain.session import Interaction, Player, Session, SessionCharacter, SessionKind
from anima.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from anima.pipeline.job import TurnInput, TurnJob
from anima.pipeline.runner import TurnRunner
from anima.pipeline.stages.affect import emotion_profile
from anima.pipeline.stages.base import scene_info
from anima.settings import Settings
from anima.store import Store
from anima.store.characters import DeployedCharacter
from anima.store.db import to_completion
from anima.store.leases import LEASE_SECONDS, owner_id

log = logging.getLogger("anima.engine")

Clock = Callable[[], float]
_LEASE_POLL = 0.02
_VERSION_CACHE = 256  # deployed character versions kept parsed in memory
WARM_CHARACTERS = 4  # a new scene session's first characters have their opening read ahead
HISTORY_INTERACTIONS = 32  # more than the prompt's history budget holds
HISTORY_BLOCK = 16  # the oldest interaction read moves by this many at once


def history_window(history: list[Interaction]) -> list[Interaction]:
    """The last ``HISTORY_INTERACTIONS`` or more interactions (of at most
    ``HISTORY_INTERACTIONS + HISTORY_BLOCK``, oldest first), starting at a multiple of
    ``HISTORY_BLOCK``: the prompt's oldest line stays put for ``HISTORY_BLOCK`` turns, so a
    model that reuses its evaluated prefix is not made to re-read the whole history every
    turn once a conversation outgrows the window."""
    if len(history) <= HISTORY_INTERACTIONS:
        return history
    newest = history[-1].seq
    start = max(0, newest - HISTORY_INTERACTIONS + 1) // HISTORY_BLOCK * HISTORY_BLOCK
    return [i for i in history if i.seq >= start] or history[-HISTORY_INTERACTIONS:]


@dataclass(frozen=True, slots=True)
class CharacterMind:
    """What a session character feels and thinks of the player right now (read-only)."""

    mood: emotion.Mood
    behavior: SpaffCode
    strength: Strength
    relationship_enabled: bool
    relationship: relationship.RelationshipState
    label: str | None
    goals: GoalState
    memories: tuple[str, ...] = ()
    safety: tuple[dict[str, Any], ...] = ()  # the latest safety verdicts (pipeline/safety.py)


@dataclass(slots=True)
class _Collected:
    texts: list[str] = field(default_factory=list)
    narrated: list[bool] = field(default_factory=list)
    emotion: tuple[str, str] = ("NEUTRAL", "NORMAL")
    relationship: dict[str, int] = field(default_factory=dict)
    triggers: list[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=list)
    cancelled: bool = False
    fallback: bool = False
    trace: dict[str, Any] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        match event:
            case Utterance(text=text, fallback=fallback):
                self.texts.append(text)
                self.narrated.append(False)
                self.fallback = self.fallback or fallback
            case NarratedAction(text=text):
                self.texts.append(text)
                self.narrated.append(True)
            case EmotionChanged(behavior=b, strength=s):
                self.emotion = (b.name, s.name)
            case RelationshipChanged() as r:
                self.relationship = {
                    "trust": r.trust,
                    "respect": r.respect,
                    "familiar": r.familiar,
                    "flirtatious": r.flirtatious,
                    "attraction": r.attraction,
                }
            case TriggerFired(name=name, parameters=params):
                self.triggers.append((name, params))
            case InteractionEnd(cancelled=cancelled):
                self.cancelled = cancelled
            case _:
                pass


def parse_resource(workspace: str, resource: str) -> tuple[SessionKind, str]:
    """``workspaces/{ws}/characters/{id}`` or ``.../scenes/{id}`` → (kind, id)."""
    parts = resource.split("/")
    if len(parts) == 4 and parts[0] == "workspaces" and parts[3]:
        if parts[1] != workspace:
            raise InvalidArgument(f"{resource!r} is not in workspace '{workspace}'", field="name")
        if parts[2] == "characters":
            return SessionKind.CHARACTER, parts[3]
        if parts[2] == "scenes":
            return SessionKind.SCENE, parts[3]
    raise InvalidArgument(
        f"expected 'workspaces/{workspace}/characters/{{id}}' or "
        f"'workspaces/{workspace}/scenes/{{id}}', got {resource!r}",
        field="name",
    )


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        turns: TurnRunner,
        *,
        clock: Clock = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.turns = turns
        self.clock = clock
        self.worker_id = owner_id()  # names this process, so others can tell when it is gone
        self.lease_seconds = LEASE_SECONDS
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._versions: dict[tuple[str, str, int], DeployedCharacter] = {}
        self._warming: set[asyncio.Task[None]] = set()

    # -- sessions ------------------------------------------------------------------

    async def open_session(
        self,
        workspace: str,
        resource: str,
        player: Player | None = None,
        *,
        session_id: str | None = None,
    ) -> Session:
        """A new stored session of ``resource``; ``session_id`` (``{workspace}:...``) when the
        client chose it (the streaming faces use the id its token came with)."""
        kind, characters, scene_version = await self.load_resource(workspace, resource)
        now = self.clock()
        session = Session(
            id=session_id or f"{workspace}:{uuid.uuid4()}",
            workspace=workspace,
            kind=kind,
            loaded_scene=resource,
            characters=characters,
            player=player or Player(),
            created_at=now,
            last_active_at=now,
            scene_version=scene_version,
        )
        await self.store.sessions.create(session)
        self._warm(session)
        return session

    def _warm(self, session: Session) -> None:
        """Let the model read the new session's opening while the player is still typing."""
        if not isinstance(self.turns.llm, PreparesPrompts):
            return
        task = asyncio.create_task(self._warm_opening(session, self.turns.llm))
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    async def _warm_opening(self, session: Session, llm: PreparesPrompts) -> None:
        try:
            scene_name, scene_description = await self._scene_of(session)
            for agent in session.characters[:WARM_CHARACTERS]:
                key = (session.workspace, agent.character_id, agent.version)
                deployed = self._versions.get(key)  # read when the session was opened
                if deployed is None:
                    deployed = await self._deployed(session.workspace, agent)
                opening = PromptInput(
                    character=deployed.character,
                    player=session.player,
                    scene=scene_info(session, agent.agent_id, scene_name, scene_description),
                    max_tokens_cap=self.settings.llm_max_tokens,
                )
                if not await llm.warm(build_prompt(opening)):
                    return  # the model is busy with turns: they go first
        except Exception as exc:  # best effort: without it the first turn reads the opening
            log.warning("could not read ahead for session %s: %s", session.id, exc)

    async def aclose(self) -> None:
        """Stop the work started for sessions that nobody waits for."""
        for task in list(self._warming):
            task.cancel()
        await asyncio.gather(*self._warming, return_exceptions=True)

    async def load_resource(
        self, workspace: str, resource: str
    ) -> tuple[SessionKind, list[SessionCharacter], int | None]:
        """The deployed characters of a character or scene resource, each under a new agent id,
        and the scene's deployed version (None for a character)."""
        kind, resource_id = parse_resource(workspace, resource)
        if kind is SessionKind.CHARACTER:
            return kind, [await self.session_character(workspace, resource_id)], None
        scene = await self.store.scenes.get_deployed(workspace, resource_id)
        if scene is None:
            await self._raise_missing(workspace, "scenes", resource_id)
        characters = [
            await self.session_character(workspace, _short_id(ref))
            for ref in scene.scene.character_refs()
        ]
        return kind, characters, scene.version

    async def change_session(
        self, workspace: str, session_id: str, change: Callable[[Session], None]
    ) -> Session:
        """Apply ``change`` to the session's characters or scene under its turn lease (so it
        never interleaves with a turn's commit) and store it."""
        async with self._serialised(workspace, session_id) as lease:
            session = lease.session
            change(session)
            await self.store.sessions.save_state(session, touch=self.clock())
            return session

    async def session_character(self, workspace: str, character_id: str) -> SessionCharacter:
        """The deployed character under a new per-session agent id."""
        deployed = await self.store.characters.get_deployed(workspace, character_id)
        if deployed is None:
            await self._raise_missing(workspace, "characters", character_id)
        self._keep_version((workspace, character_id, deployed.version), deployed)
        c = deployed.character
        return SessionCharacter(
            agent_id=str(uuid.uuid4()),
            character_id=character_id,
            version=deployed.version,
            display_name=c.description.given_name or "Character",
            avatar_img=c.assets.avatar_img,
            avatar_img_original=c.assets.avatar_img_original,
        )

    async def _raise_missing(self, workspace: str, collection: str, resource_id: str) -> NoReturn:
        repo = self.store.characters if collection == "characters" else self.store.scenes
        if await repo.exists(workspace, resource_id):
            raise FailedPrecondition(
                f"{collection[:-1]} 'workspaces/{workspace}/{collection}/{resource_id}' has no "
                f"deployed version; deploy it first: POST /studio/v1/workspaces/{workspace}/"
                f"{collection}/{resource_id}:deploy"
            )
        raise NotFound(
            f"{collection[:-1]} 'workspaces/{workspace}/{collection}/{resource_id}' not found"
        )

    async def get_session(self, workspace: str, session_id: str) -> Session:
        return self._live(workspace, session_id, await self.store.sessions.get(session_id))

    def _live(self, workspace: str, session_id: str, session: Session | None) -> Session:
        """``session`` if it exists in ``workspace`` and has not expired, else NotFound."""
        if (
            session is None
            or session.workspace != workspace
            or session.expired(self.clock(), self.settings.session_ttl_seconds)
        ):
            raise NotFound(
                f"session '{session_id}' not found or expired (sessions expire after "
                f"{self.settings.session_ttl_seconds // 60} minutes without activity); "
                "open a new one with openSession"
            )
        return session

    async def history(self, workspace: str, session_id: str, limit: int) -> list[Interaction]:
        """The session's last ``limit`` interactions, oldest first (also once it expired)."""
        session = await self.store.sessions.get(session_id)
        if session is None or session.workspace != workspace:
            raise NotFound(f"session '{session_id}' not found")
        return await self.store.sessions.history(session_id, limit=limit)

    async def inspect(self, workspace: str, session_id: str, agent_id: str) -> CharacterMind:
        """The current mood, emotion, relationship and goal state of a session character."""
        session = await self.get_session(workspace, session_id)
        agent = session.character(agent_id)
        deployed = await self.store.characters.get_deployed_version(
            workspace, agent.character_id, agent.version
        )
        if deployed is None:
            raise NotFound(f"character '{agent.resource(workspace)}' of this session was deleted")
        character = deployed.character
        profile = emotion_profile(character)
        state = session.agent_state.get(agent_id, {})
        mood = (
            emotion.EmotionState.from_dict(state["emotion"])
            if "emotion" in state
            else emotion.EmotionState.initial(profile)
        )
        behavior, strength = emotion.express(mood, profile)
        enabled = character.relationship.enabled and bool(session.player.end_user_id)
        rel = relationship.RelationshipState.from_dict(
            await self.store.relationships.get(
                workspace, session.player.end_user_id, agent.character_id
            )
            if enabled
            else {}
        )
        return CharacterMind(
            mood=mood.mood,
            behavior=behavior,
            strength=strength,
            relationship_enabled=enabled,
            relationship=rel,
            label=relationship.label(rel).value if enabled else None,
            goals=GoalState.from_dict(state.get("goals", {})),
            memories=await self._memories(workspace, session, agent.character_id, character),
            safety=tuple(state.get("safety", ())),
        )

    async def _memories(
        self, workspace: str, session: Session, character_id: str, character: Character
    ) -> tuple[str, ...]:
        recall = self.turns.recall
        end_user = session.player.end_user_id
        if recall is None or not recall.remembers(character, end_user):
            return ()
        found = await self.store.memories.of_player(workspace, character_id, end_user)
        return tuple(spoken(m.text, session.player.name or m.player_name) for m in found)

    # -- turns -------------------------------------------------------------------------

    async def simple_send_text(
        self,
        workspace: str,
        character_id: str,
        text: str,
        *,
        session_id: str | None,
        player: Player,
    ) -> Interaction:
        self._check_text(text)
        session: Session | None = None
        if session_id:
            with contextlib.suppress(NotFound):
                session = await self.get_session(workspace, session_id)
            if session is not None and not any(
                c.character_id == character_id for c in session.characters
            ):
                session = None
        if session is None:
            session = await self.open_session(
                workspace, f"workspaces/{workspace}/characters/{character_id}", player
            )
        agent = next(c for c in session.characters if c.character_id == character_id)
        sink: list[Interaction] = []
        return await self.collect(
            self.turn(workspace, session.id, agent.agent_id, TurnInput("text", text=text), sink),
            sink,
        )

    async def send_text(
        self, workspace: str, session_id: str, agent_id: str, text: str
    ) -> Interaction:
        self._check_text(text)
        sink: list[Interaction] = []
        return await self.collect(
            self.turn(workspace, session_id, agent_id, TurnInput("text", text=text), sink), sink
        )

    async def send_trigger(
        self,
        workspace: str,
        session_id: str,
        agent_id: str,
        trigger: str,
        parameters: tuple[tuple[str, str], ...] = (),
    ) -> Interaction:
        sink: list[Interaction] = []
        turn_input = TurnInput("trigger", trigger=trigger, parameters=parameters)
        return await self.collect(
            self.turn(workspace, session_id, agent_id, turn_input, sink), sink
        )

    def _check_text(self, text: str) -> None:
        if not text.strip():
            raise InvalidArgument("text is empty; send what the player says", field="text")
        limit = self.settings.max_text_chars
        if len(text) > limit:
            raise InvalidArgument(
                f"text is {len(text)} characters; at most {limit} are allowed", field="text"
            )

    async def collect(self, events: AsyncIterator[Event], sink: list[Interaction]) -> Interaction:
        """Run a turn to its end; return the Interaction it stored."""
        async for _ in events:
            pass
        return sink[-1]

    async def turn(
        self,
        workspace: str,
        session_id: str,
        agent_id: str,
        turn_input: TurnInput,
        sink: list[Interaction] | None = None,
    ) -> AsyncIterator[Event]:
        """One turn as a stream of events, ``InteractionEnd`` last.

        The interaction is stored before ``InteractionEnd`` is yielded, so a client that saw
        the end can rely on it. Cancelling the consumer stops generation at once; what was
        said so far is stored as a cancelled interaction. ``sink`` receives the stored
        Interaction.
        """
        async with self._serialised(workspace, session_id) as lease:
            session = lease.session
            agent = session.character(agent_id)
            deployed = await self._deployed(workspace, agent)
            history = history_window(
                await self.store.sessions.history(
                    session_id, limit=HISTORY_INTERACTIONS + HISTORY_BLOCK
                )
            )
            interaction_id = str(uuid.uuid4())
            collected = _Collected()
            end: InteractionEnd | None = None
            committed = False
            try:
                scene_name, scene_description = await self._scene_of(session)
                rel_enabled = deployed.character.relationship.enabled and bool(
                    session.player.end_user_id
                )
                job = TurnJob(
                    interaction_id=interaction_id,
                    session=session,
                    agent=agent,
                    character=deployed.character,
                    history=history,
                    turn_input=turn_input,
                    scene_name=scene_name,
                    scene_description=scene_description,
                    relationship=await self.store.relationships.get(
                        workspace, session.player.end_user_id, agent.character_id
                    )
                    if rel_enabled
                    else {},
                )
                async for event in self.turns.run(job):
                    if isinstance(event, InteractionEnd):
                        end = event
                        continue
                    collected.add(event)
                    yield event
                end = end or InteractionEnd(interaction_id, agent.agent_id)
                collected.add(end)
                session.agent_state[agent.agent_id] = job.outcome.agent_state
                collected.trace = job.outcome.trace
                stored = await self._commit(session, agent, interaction_id, turn_input, collected)
                committed = True
                lease.held = False  # committing the turn released it
                self.turns.committed(job)
                if job.outcome.relationship is not None:
                    await self.store.relationships.put(
                        workspace,
                        session.player.end_user_id,
                        agent.character_id,
                        job.outcome.relationship,
                        self.clock(),
                    )
                await self.store.safety_events.add(  # the audit of the safety stage
                    workspace=workspace,
                    character_id=agent.character_id,
                    session_id=session_id,
                    interaction_id=interaction_id,
                    agent_id=agent.agent_id,
                    records=job.outcome.trace.get("safety", ()),
                    created_at=stored.created_at,
                )
                if sink is not None:
                    sink.append(stored)
                yield end
            except (asyncio.CancelledError, GeneratorExit):
                # Interrupted: keep what the player already heard, marked cancelled. (A turn
                # that fails instead stores nothing: the session stays as it was.)
                if not committed and collected.texts:
                    collected.cancelled = True
                    await to_completion(
                        self._commit(session, agent, interaction_id, turn_input, collected)
                    )
                raise

    async def _commit(
        self,
        session: Session,
        agent: SessionCharacter,
        interaction_id: str,
        turn_input: TurnInput,
        c: _Collected,
    ) -> Interaction:
        now = self.clock()
        interaction = Interaction(
            id=interaction_id,
            session_id=session.id,
            agent_id=agent.agent_id,
            seq=-1,
            created_at=now,
            input_kind=turn_input.kind,
            input_text=turn_input.text,
            trigger=turn_input.trigger,
            parameters=turn_input.parameters,
            texts=tuple(c.texts),
            narrated=tuple(c.narrated),
            emotion=c.emotion,
            relationship=c.relationship,
            triggers_out=tuple(c.triggers),
            cancelled=c.cancelled,
            fallback=c.fallback,
            trace=c.trace,
        )
        return await self.store.sessions.commit_turn(session, interaction, self.worker_id, now)

    async def _deployed(self, workspace: str, agent: SessionCharacter) -> DeployedCharacter:
        """The character version the agent talks to. Versions never change, so each is read
        once per process; deleting the character deletes its versions, checked every turn."""
        key = (workspace, agent.character_id, agent.version)
        deployed = self._versions.get(key)
        if deployed is not None:
            if await self.store.characters.deployed_version_exists(*key):
                return deployed
            self._versions.pop(key, None)
        else:
            deployed = await self.store.characters.get_deployed_version(*key)
            if deployed is not None:
                self._keep_version(key, deployed)
                return deployed
        raise NotFound(f"character '{agent.resource(workspace)}' of this session was deleted")

    def _keep_version(self, key: tuple[str, str, int], deployed: DeployedCharacter) -> None:
        self._versions[key] = deployed
        while len(self._versions) > _VERSION_CACHE:
            self._versions.pop(next(iter(self._versions)))

    async def _scene_of(self, session: Session) -> tuple[str, str]:
        if session.kind is not SessionKind.SCENE or session.scene_version is None:
            return "", ""
        _, scene_id = parse_resource(session.workspace, session.loaded_scene)
        deployed = await self.store.scenes.get_deployed_version(
            session.workspace, scene_id, session.scene_version
        )
        if deployed is None:
            return "", ""
        return deployed.scene.display_name, deployed.scene.description

    @contextlib.asynccontextmanager
    async def _serialised(self, workspace: str, session_id: str) -> AsyncIterator[_Lease]:
        """Hold the session's turn lease (and, within this process, its lock); the lease
        comes with the session as it is now (NotFound when it is gone or expired)."""
        lock = self._locks.get(session_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[session_id] = lock
        async with lock:
            patience = self.settings.llm_timeout_seconds * 2 + 30  # the longest turn of another
            deadline = time.monotonic() + patience
            while (
                taken := await self.store.leases.acquire(
                    session_id,
                    self.worker_id,
                    now=time.time(),
                    until=time.time() + self.lease_seconds,
                )
            ) is None:
                await self.get_session(workspace, session_id)  # gone or expired: NotFound
                if time.monotonic() > deadline:
                    raise Aborted(
                        f"session '{session_id}' is busy with another turn; try again",
                        retryable=True,
                    )
                await asyncio.sleep(_LEASE_POLL)
            held = _Lease(taken)
            renewing = asyncio.create_task(self._renew(session_id, held))
            try:
                held.session = self._live(workspace, session_id, taken)
                yield held
            finally:
                renewing.cancel()
                # Waited for, not left behind: a renewal or release still running when the
                # app closes its store would hold a connection nobody returns.
                await to_completion(asyncio.wait((renewing,)))
                if held.held:
                    await to_completion(self.store.leases.release(session_id, self.worker_id))

    async def _renew(self, session_id: str, held: _Lease) -> None:
        """Renew the turn lease while the turn runs: it is short, so that it lapses soon
        after its holder died where nobody can check (store/leases.py)."""
        while held.held:
            await asyncio.sleep(self.lease_seconds / 3)
            until = time.time() + self.lease_seconds
            if held.held and not await self.store.leases.renew(session_id, self.worker_id, until):
                if held.held:
                    log.warning("session %s: turn lease lost (it lapsed and was taken)", session_id)
                return


@dataclass(slots=True)
class _Lease:
    session: Session
    held: bool = True


def _short_id(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]
