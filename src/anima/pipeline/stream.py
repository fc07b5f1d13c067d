"""The streaming session core, shared by the WebSocket and gRPC faces (transport-neutral).

A face decodes client packets into ``ClientInput`` (domain/inputs.py), feeds them to a
``StreamSession`` and encodes the ``Output`` values it produces (wire/stream.py turns them
into ``InworldPacket``). The core never sees a packet, a socket or a gRPC context::

    stream = StreamSession(engine, states, workspace, session_id, ping_seconds=30)
    await stream.serve(inputs, send)    # inputs: AsyncIterator[ClientInput | Malformed]
                                        # send:   async (Output) -> None; Closed comes last

or, driving it by hand: ``await stream.open()``; ``await stream.receive(input)`` per packet;
``async for out in stream.outputs()`` (ends after ``Closed``); ``await stream.close()`` when
the transport ends. ``receive`` never raises for anything a client sends: a recoverable
problem becomes a ``Notice`` (a WARNING packet), a fatal one ``Closed(error)``, after which
the face sends the error and ends the transport (spec §4.4).

What it does (streaming-protocol.md §3-§5):

* the handshake (``StreamPhase``): SESSION_CONFIGURATION, then loadScene creates the stored
  session under the client's session id; a known session id resumes with no handshake (a
  reconnect, another worker, the other face, or a session opened over REST); packets that
  need a scene on an unknown session id end it with ``SessionLost`` (SESSION_INVALID +
  IMMEDIATE: the web SDK then redoes the whole handshake);
* scenes and characters: loadScene (also a scene change, keeping the agent ids of the
  characters that stay), loadCharacters, unloadCharacters; each answered with ``SceneShown``
  listing every agent; conversations (``ConversationShown`` for every update) and mute;
* turns: one task per interaction, running ``Engine.turn``; its events come out as ``Reply``
  carrying the client's interaction, conversation and correlation ids; ``InteractionEnd``
  last, also when the turn is cancelled (cancelResponses, barge-in with the ``interruptions``
  capability, a failure); turns of one session run one after another (the engine's lease);
* continuation from a saved state or a dialog (pipeline/saved_state.py), the session history
  request, PING (``PingDue``) with PONG, perceived-latency reports (kept in the stream state),
  logs (``LogLine``; the encoder drops levels the client did not ask for);
* speech: audio sessions go to ``Hearing`` (pipeline/hearing.py) when the server has a
  speech recognizer (``ears``); what the player said comes out as ``Heard`` and its final
  text starts a turn like typed text; without one, audio gets a WARNING.

Per-session transport state (``StreamState``) is stored in ``Session.stream_state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from anima.domain import inputs as di
from anima.domain.events import AudioChunk, Event, InteractionEnd, Silence
from anima.domain.session import Session, SessionCharacter, SessionKind
from anima.domain.stream_state import Conversation, StreamPhase, StreamState, player_of
from anima.errors import AnimaError, Internal, InvalidArgument, NotFound
from anima.pipeline.engine import Engine, parse_resource
from anima.pipeline.hearing import Ears, Heard, Hearing
from anima.pipeline.job import TurnInput
from anima.pipeline.saved_state import SessionStates
from anima.pipeline.voice import Speech
from anima.store.db import to_completion

log = logging.getLogger("anima.stream")

NEXT_TURN_TRIGGER = "inworld.conversation.next_turn"
_DRAIN_SECONDS = 5.0

# -- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: str
    brain_name: str  # the character's resource name, as the client asked for it
    given_name: str
    avatar_img: str = ""
    avatar_img_original: str = ""


@dataclass(frozen=True, slots=True)
class SceneShown:
    """CURRENT_SCENE_STATUS: every agent of the session."""

    scene_name: str
    agents: tuple[AgentView, ...]
    description: str = ""
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class ConversationShown:
    """CONVERSATION_EVENT answering a CONVERSATION_UPDATE."""

    conversation_id: str
    participants: tuple[di.Participant, ...]
    event_type: str  # STARTED | UPDATED | EVICTED


@dataclass(frozen=True, slots=True)
class Reply:
    """A turn event, its interaction id already the client's."""

    event: Event
    conversation_id: str = ""
    correlation_id: str = ""
    muted: bool = False


@dataclass(frozen=True, slots=True)
class Notice:
    """A WARNING: the session goes on."""

    text: str
    conversation_id: str = ""


@dataclass(frozen=True, slots=True)
class LogLine:
    text: str
    level: str = "INFO"  # WARNING | INFO | DEBUG | INTERNAL


@dataclass(frozen=True, slots=True)
class PingDue:
    """Time to PING the client (only with the ``ping_pong_report`` capability)."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    speaker: di.ActorKind  # PLAYER or AGENT
    text: str
    interaction_id: str
    utterance_id: str
    narrated: bool = False


@dataclass(frozen=True, slots=True)
class HistoryShown:
    """The answer to a session history request: per agent, its exchanges, oldest first."""

    items: tuple[tuple[AgentView, tuple[HistoryEntry, ...]], ...]


@dataclass(frozen=True, slots=True)
class Closed:
    """Always the last output. With an error, the face sends it and then ends the transport."""

    error: AnimaError | None = None


Output = (
    SceneShown
    | ConversationShown
    | Reply
    | Notice
    | LogLine
    | PingDue
    | HistoryShown
    | Heard
    | Closed
)


@dataclass(frozen=True, slots=True)
class Malformed:
    """An input the face could not decode (bad JSON, oversized...): answered with a WARNING."""

    reason: str


Incoming = di.ClientInput | Malformed


class SessionLost(NotFound):
    """The session id is unknown and the client did not configure it (SESSION_INVALID)."""


# -- the core --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    interaction_id: str  # the client's
    agent_id: str
    conversation_id: str
    correlation_id: str
    task: asyncio.Task[None] | None = None
    ended: bool = False


@dataclass(slots=True)
class _Pending:
    continuation: di.Continuation | None = None


class StreamSession:
    """One connection to one session. Build per connection; state lives in the store."""

    def __init__(
        self,
        engine: Engine,
        states: SessionStates,
        workspace: str,
        session_id: str,
        *,
        ping_seconds: float | None = 30.0,
        clock: Callable[[], float] = time.time,
        speech: Speech | None = None,
        ears: Ears | None = None,
    ) -> None:
        self.engine = engine
        self.speech = speech  # the voice stage; None: text only
        self.states = states
        self.workspace = workspace
        self.session_id = session_id
        self.phase = StreamPhase.CONNECTED
        self.state = StreamState()
        self.session: Session | None = None
        self.last_ping_rtt: float | None = None
        self._ping_seconds = ping_seconds
        self._clock = clock
        self._queue: asyncio.Queue[Output] = asyncio.Queue()
        self._pending = _Pending()
        self._runs: dict[str, _Run] = {}
        self._last_speaker: dict[str, str] = {}
        self._pinger: asyncio.Task[None] | None = None
        self._audio_noticed = False
        self._hushed: set[str] = set()  # interactions cancelled: their queued audio is dropped
        self._hearing = Hearing(ears, self) if ears is not None else None

    @property
    def capabilities(self) -> di.Capabilities:
        return self.state.capabilities

    # -- lifecycle -------------------------------------------------------------------------

    async def serve(
        self, inputs: AsyncIterator[Incoming], send: Callable[[Output], Awaitable[None]]
    ) -> None:
        """Run the connection until the client goes away or the session ends (``Closed``)."""

        async def read() -> None:
            async for item in inputs:
                await self.receive(item)
                if self.phase is StreamPhase.CLOSED:
                    return

        async def write() -> None:
            async for out in self.outputs():
                await send(out)

        await self.open()
        reader, writer = asyncio.create_task(read()), asyncio.create_task(write())
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():
                # The client went away, or the session ended: let the outputs run to Closed.
                # A reader that failed (a bug decoding input) ends it with an error the client
                # sees, never with a silent close.
                failed = None if reader.cancelled() else reader.exception()
                if failed is not None:
                    log.error("stream %s: reading input failed", self.session_id, exc_info=failed)
                await self.close(
                    None if failed is None else Internal("internal error reading a packet")
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait({writer}, timeout=_DRAIN_SECONDS)
        finally:
            reader.cancel()
            writer.cancel()
            await self.close()
            await asyncio.wait({reader, writer})
            for task in (reader, writer):
                if not task.cancelled() and task.exception() is not None:
                    log.debug("stream %s: %r", self.session_id, task.exception())

    async def open(self) -> None:
        """Resume the session if its id is known (no handshake needed then)."""
        with contextlib.suppress(NotFound):
            session = await self.engine.get_session(self.workspace, self.session_id)
            self.session = session
            self.state = StreamState.from_dict(session.stream_state)
            self.phase = self.phase.advance(StreamPhase.READY)
            self._start_pinger()

    async def outputs(self) -> AsyncIterator[Output]:
        while True:
            out = await self._queue.get()
            if self._unheard(out):
                continue
            yield out
            if isinstance(out, Closed):
                return

    async def close(self, error: AnimaError | None = None) -> None:
        """End the connection: stop running turns (stored as cancelled), keep the state.

        Everything that must happen even if the caller is being cancelled happens before
        the first await: the phase, the cancellations and the ``Closed`` output.
        """
        if self.phase is StreamPhase.CLOSED:
            return
        self.phase = self.phase.advance(StreamPhase.CLOSED)
        tasks = [r.task for r in self._runs.values() if r.task is not None]
        if self._pinger is not None:
            tasks.append(self._pinger)
        if self._hearing is not None:
            tasks.extend(self._hearing.stop())
        for task in tasks:
            task.cancel()
        self._emit(Closed(error))
        if tasks:
            await asyncio.wait(tasks)
        with contextlib.suppress(Exception):
            await to_completion(self._save())  # finished before close returns, never orphaned

    async def receive(self, item: Incoming) -> None:
        """Apply one client input. Never raises for what a client sends."""
        if self.phase is StreamPhase.CLOSED:
            return
        try:
            await self._dispatch(item)
        except AnimaError as exc:
            log.info("streaming session %s ends: %s", self.session_id, exc.message)
            await self.close(exc)
        except Exception:
            log.exception("streaming session %s failed", self.session_id)
            await self.close(Internal("internal error; the session can be resumed"))

    # -- dispatch -------------------------------------------------------------------------

    async def _dispatch(self, item: Incoming) -> None:
        match item:
            case Malformed(reason=reason):
                self._notice(f"packet ignored: {reason}")
            case di.SessionConfigured():
                await self._configure(item)
            case di.SceneRequested(name=name):
                await self._load_scene(name)
            case di.CharactersAdded(names=names):
                await self._add_characters(names)
            case di.CharactersRemoved(agent_ids=agent_ids):
                await self._remove_characters(set(agent_ids))
            case di.ConversationUpdated():
                await self._update_conversation(item)
            case di.TextSent(text=text, target_agent_id=target, ids=ids):
                await self._start_turn(TurnInput("text", text=text), target, ids)
            case di.TriggerSent(name=name, parameters=params, target_agent_id=target, ids=ids):
                await self._start_turn(
                    TurnInput("trigger", trigger=name, parameters=params), target, ids
                )
            case di.NarratedActionSent(content=content, target_agent_id=target, ids=ids):
                await self._start_turn(TurnInput("action", text=content), target, ids)
            case di.ResponsesCancelled(interaction_id=interaction_id):
                self._cancel(interaction_id)
            case di.PlaybackMuted(muted=muted, ids=ids):
                await self._mute(ids.conversation_id, muted)
            case di.PongReceived(ping_timestamp=sent):
                if sent is not None:
                    self.last_ping_rtt = max(0.0, self._clock() - sent.timestamp())
                    self._log(f"ping round trip {self.last_ping_rtt * 1000:.0f} ms", "DEBUG")
            case di.LatencyReported(seconds=seconds, precision=precision, ids=ids):
                self.state.record_latency(ids.interaction_id, seconds, precision)
                log.debug(
                    "perceived latency %.3f s (%s) for %s", seconds, precision, ids.interaction_id
                )
            case di.SessionHistoryRequested():
                await self._history()
            case di.AudioSessionStarted() | di.AudioSessionEnded() | di.AudioReceived():
                if self._hearing is not None:
                    await self._hearing.receive(item)
                elif not self._audio_noticed:
                    self._audio_noticed = True
                    self._notice("speech input is not supported by this server; send text")
            case di.Ignored(what=what):
                self._log(f"ignored packet: {what}", "DEBUG")

    # -- handshake, scenes and characters -------------------------------------------------

    async def _configure(self, c: di.SessionConfigured) -> None:
        ready = self.phase is StreamPhase.READY
        self.phase = self.phase.advance(StreamPhase.READY if ready else StreamPhase.CONFIGURED)
        state = self.state
        state.configured = True
        if c.capabilities is not None:
            state.capabilities = c.capabilities
        if c.user is not None:
            state.user = c.user
        if c.client is not None:
            state.client = c.client
        if c.game_session_id is not None:
            state.game_session_id = c.game_session_id
        if c.continuation is not None:
            if self.session is None:
                self._pending.continuation = c.continuation
            else:
                self._log("continuation ignored: the session already exists", "WARNING")
        self._start_pinger()
        await self._save()

    async def _load_scene(self, name: str) -> None:
        if self.session is None:
            if await self.engine.store.sessions.get(self.session_id) is not None:
                raise SessionLost(  # expired (open() found nothing): its id cannot be reused
                    f"session '{self.session_id}' expired; open a new session"
                )
            player = player_of(self.state.user)
            session = await self.engine.open_session(
                self.workspace, name, player, session_id=self.session_id
            )
            self.session = await self._continue(session)
        elif name != self.session.loaded_scene:
            kind, characters, version = await self.engine.load_resource(self.workspace, name)

            def change(session: Session) -> None:
                keep = {c.character_id: c.agent_id for c in session.characters}
                session.kind, session.loaded_scene, session.scene_version = kind, name, version
                session.characters = [
                    dataclasses.replace(c, agent_id=keep.get(c.character_id, c.agent_id))
                    for c in characters
                ]

            self.session = await self._change(change)
        self.phase = self.phase.advance(StreamPhase.READY)
        self._start_pinger()
        await self._save()
        await self._show_scene()

    async def _continue(self, session: Session) -> Session:
        continuation, self._pending.continuation = self._pending.continuation, None
        try:
            match continuation:
                case di.SavedStateContinuation(state=blob):
                    return await self.states.restore(session, blob)
                case di.DialogContinuation(turns=turns):
                    return await self.states.restore_dialog(session, turns)
        except InvalidArgument as exc:  # the session starts afresh instead
            self._notice(f"continuation ignored: {exc.message}")
        return session

    async def _add_characters(self, names: tuple[str, ...]) -> None:
        session = self._require_scene()
        if session is None:
            return
        added: list[SessionCharacter] = []
        loaded = {c.character_id for c in session.characters}
        for name in names:
            kind, character_id = parse_resource(self.workspace, name)
            if kind is not SessionKind.CHARACTER:
                raise InvalidArgument(f"loadCharacters takes characters, not {name!r}")
            if character_id not in loaded:
                loaded.add(character_id)
                added.append(await self.engine.session_character(self.workspace, character_id))

        def change(s: Session) -> None:
            have = {c.character_id for c in s.characters}
            s.characters = [*s.characters, *(c for c in added if c.character_id not in have)]

        if added:
            self.session = await self._change(change)
        await self._show_scene()

    async def _remove_characters(self, agent_ids: set[str]) -> None:
        if self._require_scene() is None:
            return

        def change(s: Session) -> None:
            s.characters = [c for c in s.characters if c.agent_id not in agent_ids]

        self.session = await self._change(change)
        self.state.drop_agents(agent_ids)
        await self._save()
        await self._show_scene()

    async def _change(self, change: Callable[[Session], None]) -> Session:
        return await self.engine.change_session(self.workspace, self.session_id, change)

    async def _show_scene(self) -> None:
        session = self.session
        assert session is not None
        description = display_name = ""
        if session.kind is SessionKind.SCENE and session.scene_version is not None:
            _, scene_id = parse_resource(self.workspace, session.loaded_scene)
            deployed = await self.engine.store.scenes.get_deployed_version(
                self.workspace, scene_id, session.scene_version
            )
            if deployed is not None:
                description, display_name = deployed.scene.description, deployed.scene.display_name
        agents = tuple(self._view(c) for c in session.characters)
        self._emit(SceneShown(session.loaded_scene, agents, description, display_name))

    def _view(self, c: SessionCharacter) -> AgentView:
        return AgentView(
            c.agent_id,
            c.resource(self.workspace),
            c.display_name,
            c.avatar_img,
            c.avatar_img_original,
        )

    def _require_scene(self) -> Session | None:
        """The loaded session; ``SessionLost`` on an unknown id; None (and a notice) before
        this connection loaded the scene it configured."""
        if self.session is not None:
            return self.session
        if self.phase is StreamPhase.CONNECTED:
            raise SessionLost(
                f"session '{self.session_id}' is unknown or expired; open it again "
                "(SESSION_CONFIGURATION and loadScene)"
            )
        self._notice("packet ignored: load a scene (loadScene) first")
        return None

    # -- conversations -----------------------------------------------------------------------

    async def _update_conversation(self, update: di.ConversationUpdated) -> None:
        session = self._require_scene()
        cid = update.ids.conversation_id
        if session is None:
            self._emit(ConversationShown(cid, update.participants, "EVICTED"))
            return
        if not cid:
            self._notice("CONVERSATION_UPDATE without packetId.conversationId ignored")
            return
        known = {c.agent_id for c in session.characters}
        kept = tuple(
            p
            for p in update.participants
            if p.kind is not di.ActorKind.AGENT or p.agent_id in known
        )
        unknown = [p.agent_id for p in update.participants if p not in kept]
        if unknown:
            self._notice(f"no such agents in this session: {', '.join(unknown)}", cid)
        old = self.state.conversations.get(cid)
        self.state.conversations[cid] = Conversation(kept, old.muted if old else False)
        await self._save()
        self._emit(ConversationShown(cid, kept, "UPDATED" if old else "STARTED"))

    async def _mute(self, conversation_id: str, muted: bool) -> None:
        conversation = self.state.conversations.get(conversation_id)
        if conversation is None:
            self._notice(f"mute for unknown conversation '{conversation_id}' ignored")
            return
        conversation.muted = muted
        await self._save()

    # -- turns -------------------------------------------------------------------------------

    async def _start_turn(self, turn_input: TurnInput, target: str, ids: di.InputIds) -> None:
        interaction_id = ids.interaction_id or str(uuid.uuid4())
        cid = ids.conversation_id
        session = self._require_scene()
        problem = None
        agent_id = ""
        if session is None:
            problem = "no scene loaded"
        elif turn_input.kind != "trigger" and not turn_input.text.strip():
            problem = "the text is empty"
        elif len(turn_input.text) > self.engine.settings.max_text_chars:
            problem = f"the text is longer than {self.engine.settings.max_text_chars} characters"
        else:
            agent_id = self._addressee(session, target, cid, turn_input)
            if not agent_id:
                problem = "nobody to answer: the conversation has no characters"
        if problem is not None or interaction_id in self._runs:
            if problem is not None:
                self._notice(f"not answered: {problem}", cid)
                self._end(interaction_id, agent_id, cid, ids.correlation_id)
            return
        if turn_input.kind != "trigger":
            self.speaking(cid)
        run = _Run(interaction_id, agent_id, cid, ids.correlation_id)
        self._runs[interaction_id] = run
        self._log(f"interaction {interaction_id}: {turn_input.kind} to agent {agent_id}", "DEBUG")
        self._last_speaker[cid] = agent_id
        run.task = asyncio.create_task(self._turn(run, turn_input))

    def _addressee(self, session: Session, target: str, cid: str, turn_input: TurnInput) -> str:
        present = [c.agent_id for c in session.characters]
        if target in present:
            return target
        conversation = self.state.conversations.get(cid)
        agents = [a for a in (conversation.agent_ids if conversation else ()) if a in present]
        agents = agents or present
        if len(agents) <= 1:
            return agents[0] if agents else ""
        if turn_input.kind == "trigger" and turn_input.trigger == NEXT_TURN_TRIGGER:
            last = self._last_speaker.get(cid)
            return agents[(agents.index(last) + 1) % len(agents)] if last in agents else agents[0]
        names = {c.agent_id: c.display_name for c in session.characters}
        for agent in agents:
            if re.search(rf"\b{re.escape(names[agent])}\b", turn_input.text, re.IGNORECASE):
                return agent
        return agents[0]

    async def _turn(self, run: _Run, turn_input: TurnInput) -> None:
        try:
            events = self.engine.turn(self.workspace, self.session_id, run.agent_id, turn_input)
            if self.speech is not None and self.session is not None and self.capabilities.audio:
                voice = await self.speech.voice_for(
                    self.engine.store, self.workspace, self.session.character(run.agent_id)
                )
                events = self.speech.around(events, voice, lambda: self._audible(run))
            async for event in events:
                if isinstance(event, InteractionEnd):
                    run.ended = True
                    self.state.last_interaction_id = run.interaction_id
                self._reply(run, dataclasses.replace(event, interaction_id=run.interaction_id))
        except asyncio.CancelledError:
            if self.phase is not StreamPhase.CLOSED:
                self._end(run.interaction_id, run.agent_id, run.conversation_id, run.correlation_id)
            run.ended = True
            raise
        except AnimaError as exc:
            self._notice(f"the character could not answer: {exc.message}", run.conversation_id)
        except Exception:
            log.exception("turn %s failed", run.interaction_id)
            self._notice("the character could not answer (internal error)", run.conversation_id)
        finally:
            if self._runs.get(run.interaction_id) is run:
                del self._runs[run.interaction_id]
        if not run.ended:
            run.ended = True
            self._end(run.interaction_id, run.agent_id, run.conversation_id, run.correlation_id)
        await self._save()

    # -- speech (pipeline/voice.py): never after a mute or a cancel, even if already queued

    def _audible(self, run: _Run) -> bool:
        conversation = self.state.conversations.get(run.conversation_id)
        return self.capabilities.audio and not (conversation and conversation.muted)

    def _unheard(self, out: Output) -> bool:
        if not isinstance(out, Reply):
            return False
        if isinstance(out.event, InteractionEnd):
            self._hushed.discard(out.event.interaction_id)
            return False
        if not isinstance(out.event, AudioChunk | Silence):
            return False
        conversation = self.state.conversations.get(out.conversation_id)
        muted = conversation is not None and conversation.muted
        return out.event.interaction_id in self._hushed or muted or not self.capabilities.audio

    def _reply(self, run: _Run, event: Event) -> None:
        conversation = self.state.conversations.get(run.conversation_id)
        muted = conversation.muted if conversation else False
        self._emit(Reply(event, run.conversation_id, run.correlation_id, muted))

    def _end(self, interaction_id: str, agent_id: str, cid: str, correlation_id: str) -> None:
        end = InteractionEnd(interaction_id, agent_id, cancelled=True)
        self._emit(Reply(end, cid, correlation_id))

    def _cancel(self, interaction_id: str) -> None:
        runs = (
            list(self._runs.values())
            if not interaction_id
            else [r for r in (self._runs.get(interaction_id),) if r is not None]
        )
        for run in runs:
            if run.task is not None:
                self._hushed.add(run.interaction_id)
                run.task.cancel()

    # -- speech (the Listener of pipeline/hearing.py) -------------------------------------------

    def speaking(self, conversation_id: str) -> None:
        """The player speaks or types: barge-in on replies in that conversation."""
        if self.capabilities.interruptions:
            for run in self._runs.values():
                if run.conversation_id == conversation_id and run.task is not None:
                    self._hushed.add(run.interaction_id)  # its queued audio is dropped too
                    run.task.cancel()

    def has_conversation(self, conversation_id: str) -> bool:
        return self._require_scene() is not None and conversation_id in self.state.conversations

    def heard(self, heard: Heard) -> None:
        self._emit(heard)

    def notice(self, text: str, conversation_id: str) -> None:
        self._notice(text, conversation_id)

    async def said(self, heard: Heard) -> None:
        ids = di.InputIds(
            utterance_id=heard.utterance_id,
            interaction_id=heard.interaction_id,
            conversation_id=heard.conversation_id,
        )
        await self._start_turn(TurnInput("text", text=heard.text), "", ids)

    def transcribed(self, heard: Heard) -> None:
        """SPEECH_RECOGNITION_ONLY: the transcript was all; close its interaction."""
        conversation = self.state.conversations.get(heard.conversation_id)
        agents = conversation.agent_ids if conversation is not None else ()
        self._end(heard.interaction_id, agents[0] if agents else "", heard.conversation_id, "")

    # -- history, pings, helpers --------------------------------------------------------------

    async def _history(self) -> None:
        session = self._require_scene()
        if session is None:
            return
        history = await self.engine.store.sessions.history(self.session_id, limit=50)
        items: list[tuple[AgentView, tuple[HistoryEntry, ...]]] = []
        for c in session.characters:
            entries: list[HistoryEntry] = []
            for i in (i for i in history if i.agent_id == c.agent_id):
                if i.input_kind in ("text", "action") and i.input_text:
                    narrated = i.input_kind == "action"
                    entries.append(
                        HistoryEntry(
                            di.ActorKind.PLAYER, i.input_text, i.id, f"{i.id}-in", narrated
                        )
                    )
                for n, text in enumerate(i.texts):
                    narrated = n < len(i.narrated) and i.narrated[n]
                    entries.append(
                        HistoryEntry(di.ActorKind.AGENT, text, i.id, f"{i.id}-{n}", narrated)
                    )
            items.append((self._view(c), tuple(entries)))
        self._emit(HistoryShown(tuple(items)))

    def _start_pinger(self) -> None:
        if (
            self._pinger is None
            and self._ping_seconds
            and self.capabilities.ping_pong_report
            and self.phase is StreamPhase.READY
        ):
            self._pinger = asyncio.create_task(self._ping_loop(self._ping_seconds))

    async def _ping_loop(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self._emit(PingDue())

    async def _save(self) -> None:
        if self.session is not None:
            await self.engine.store.sessions.save_stream_state(
                self.session_id, self.state.to_dict(), touch=self._clock()
            )

    def _notice(self, text: str, conversation_id: str = "") -> None:
        log.info("session %s: %s", self.session_id, text)
        self._emit(Notice(text, conversation_id))

    def _log(self, text: str, level: str) -> None:
        log.debug("session %s: %s", self.session_id, text)
        self._emit(LogLine(text, level))

    def _emit(self, out: Output) -> None:
        self._queue.put_nowait(out)


__all__ = [
    "AgentView",
    "Closed",
    "ConversationShown",
    "HistoryEntry",
    "HistoryShown",
    "Incoming",
    "LogLine",
    "Malformed",
    "Notice",
    "Output",
    "PingDue",
    "Reply",
    "SceneShown",
    "SessionLost",
    "StreamSession",
]
