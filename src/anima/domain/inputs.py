"""What a streaming client asks of its session, as typed inputs.

The WebSocket and gRPC faces decode every client packet into exactly one of these
(``anima.wire.packets.decode``); the session engine consumes them and never sees a packet.
Ids minted by the client travel in ``InputIds`` so replies can echo them.

    ClientInput
    ├── SessionConfigured        SESSION_CONFIGURATION control, or a sessionControl update
    ├── SceneRequested           loadScene mutation
    ├── CharactersAdded          loadCharacters mutation
    ├── CharactersRemoved        unloadCharacters mutation
    ├── ConversationUpdated      CONVERSATION_UPDATE control (must be answered, see the spec §3.1 step 7)
    ├── TextSent                 typed text
    ├── TriggerSent              custom event (a trigger)
    ├── NarratedActionSent       narrated action
    ├── ResponsesCancelled       cancelResponses mutation (barge-in, interruption)
    ├── AudioSessionStarted      AUDIO_SESSION_START control
    ├── AudioSessionEnded        AUDIO_SESSION_END control
    ├── AudioReceived            microphone audio chunk (16 kHz mono LINEAR16 from the web SDK)
    ├── PlaybackMuted            TTS_PLAYBACK_MUTE / _UNMUTE control
    ├── PongReceived             answer to a server PING
    ├── LatencyReported          perceived latency of an interaction
    ├── SessionHistoryRequested  sessionControl.sessionHistoryRequest
    └── Ignored                  anything else (payload-less packets, unused mutations, entities...)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the client wants to receive. Absent means off (proto3 booleans)."""

    audio: bool = False
    emotions: bool = False
    interruptions: bool = False
    narrated_actions: bool = False
    phoneme_info: bool = False
    silence_events: bool = False
    relations: bool = False
    debug_info: bool = False
    multi_agent: bool = False
    ping_pong_report: bool = False
    perceived_latency_report: bool = False
    tts_mp3: bool = False
    logs: bool = False
    logs_warning: bool = False
    logs_info: bool = False
    logs_debug: bool = False
    logs_internal: bool = False

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


class ActorKind(StrEnum):
    UNKNOWN = "unknown"
    PLAYER = "player"
    AGENT = "agent"
    WORLD = "world"


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone in a conversation; ``agent_id`` names the character (empty for the player)."""

    kind: ActorKind
    agent_id: str = ""


@dataclass(frozen=True, slots=True)
class InputIds:
    """The ids the client put on its packet (empty when absent)."""

    packet_id: str = ""
    utterance_id: str = ""
    interaction_id: str = ""
    correlation_id: str = ""
    conversation_id: str = ""


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: str = ""
    name: str = ""
    profile: tuple[tuple[str, str], ...] = ()  # (field id, value)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    id: str = ""
    version: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class DialogTurn:
    speaker: ActorKind  # PLAYER or AGENT
    text: str
    agent_id: str = ""


@dataclass(frozen=True, slots=True)
class DialogContinuation:
    """Resume from a dialog the application kept (``previousDialog``)."""

    turns: tuple[DialogTurn, ...]


@dataclass(frozen=True, slots=True)
class SavedStateContinuation:
    """Resume from the opaque state blob this server handed out (``previousState``)."""

    state: bytes


Continuation = DialogContinuation | SavedStateContinuation


@dataclass(frozen=True, slots=True)
class SessionConfigured:
    """Session settings; ``None`` means "not given in this packet, keep what you have"."""

    capabilities: Capabilities | None = None
    game_session_id: str | None = None
    user: UserInfo | None = None
    client: ClientInfo | None = None
    continuation: Continuation | None = None
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class SceneRequested:
    """Load a scene or a single character: ``workspaces/{ws}/(characters|scenes)/{id}``."""

    name: str
    reset: bool = False
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class CharactersAdded:
    names: tuple[str, ...]  # character resource names
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class CharactersRemoved:
    agent_ids: tuple[str, ...]
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class ConversationUpdated:
    """Create or change conversation ``ids.conversation_id``; answer with a conversation event."""

    participants: tuple[Participant, ...]
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class TextSent:
    text: str
    target_agent_id: str = ""  # empty: whoever the conversation says
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class TriggerSent:
    name: str
    parameters: tuple[tuple[str, str], ...] = ()
    target_agent_id: str = ""
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class NarratedActionSent:
    content: str
    target_agent_id: str = ""
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class ResponsesCancelled:
    """Stop answering ``interaction_id`` (no conversation id: look it up session-wide).

    An empty ``interaction_id`` means everything in the session; ``utterance_ids`` lists the
    utterances the client already dropped.
    """

    interaction_id: str
    utterance_ids: tuple[str, ...] = ()
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class AudioSessionStarted:
    push_to_talk: bool = False  # EXPECT_AUDIO_END: finalise speech recognition on the end packet
    transcribe_only: bool = False  # SPEECH_RECOGNITION_ONLY: return the transcript, no reply
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class AudioSessionEnded:
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class AudioReceived:
    audio: bytes
    ids: InputIds = InputIds()
    audio_format: str = ""  # the packet's audioFormat name; empty when unspecified


@dataclass(frozen=True, slots=True)
class PlaybackMuted:
    muted: bool
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class PongReceived:
    ping_packet_id: str
    ping_timestamp: datetime | None = None
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class LatencyReported:
    """Latency the client perceived for ``ids.interaction_id``."""

    seconds: float
    precision: str = "UNSPECIFIED"  # FINE | ESTIMATED | PUSH_TO_TALK | NON_SPEECH
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class SessionHistoryRequested:
    ids: InputIds = InputIds()


@dataclass(frozen=True, slots=True)
class Ignored:
    """A packet with nothing for the engine; ``what`` says which, for debug logs."""

    what: str
    ids: InputIds = InputIds()


ClientInput = (
    SessionConfigured
    | SceneRequested
    | CharactersAdded
    | CharactersRemoved
    | ConversationUpdated
    | TextSent
    | TriggerSent
    | NarratedActionSent
    | ResponsesCancelled
    | AudioSessionStarted
    | AudioSessionEnded
    | AudioReceived
    | PlaybackMuted
    | PongReceived
    | LatencyReported
    | SessionHistoryRequested
    | Ignored
)
