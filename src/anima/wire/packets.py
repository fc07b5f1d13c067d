"""The streaming codec: domain events and client inputs <-> ``InworldPacket``.

There is one mapping, written against the generated protobuf classes (``anima.wire.pb``):
the gRPC face sends and receives those messages as they are; the WebSocket face derives its
JSON from them with ``google.protobuf.json_format`` (proto3 JSON: lowerCamelCase, enums as
names, int64 as strings, bytes as base64, RFC 3339 timestamps), exactly as the web SDK parses
them. Shapes follow streaming-protocol.md §4.

    encode   domain Event (pipeline)      -> InworldPacket | None   PacketEncoder.event
             session-level server packets -> InworldPacket          PacketEncoder.scene_status ...
    decode   InworldPacket (either face)  -> ClientInput            wire.inputs.decode
             WebSocket text frame         -> InworldPacket          wire.inputs.parse_json
    frames   InworldPacket                -> {"result": ...}        result_frame
             AnimaError                   -> {"error": Status}      error_frame / status_proto

What a client receives is decided by its ``Capabilities`` through the ``_GATES`` table, not by
branches in the faces. Nothing here holds session state: the caller passes a ``ReplyRoute``
(the client's conversation and correlation ids for the interaction being answered).
"""

from __future__ import annotations

import io
import uuid
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message

from anima.domain import inputs as di
from anima.domain.events import (
    AudioChunk,
    EmotionChanged,
    Event,
    InteractionEnd,
    NarratedAction,
    RelationshipChanged,
    Silence,
    TriggerFired,
    Utterance,
)
from anima.errors import AnimaError
from anima.wire.pb.ai.inworld.common import status_pb2 as inworld_status_pb2
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from anima.wire.pb.google.rpc import status_pb2

INWORLD_STATUS_TYPE = "type.googleapis.com/ai.inworld.common.InworldStatus"

# Which capability (any of them) a client must have asked for to receive each event type.
_GATES: Mapping[type, tuple[str, ...]] = {
    EmotionChanged: ("emotions",),
    NarratedAction: ("narrated_actions",),
    AudioChunk: ("audio",),
    Silence: ("silence_events",),
    RelationshipChanged: ("relations", "debug_info"),
}
_LOG_GATES: Mapping[str, str] = {
    "WARNING": "logs_warning",
    "INFO": "logs_info",
    "DEBUG": "logs_debug",
    "INTERNAL": "logs_internal",
}
# proto3 JSON drops zero values; these must still reach the web client (spec §4.1, §3.1 step 4).
_ALWAYS_PRINT: tuple[tuple[tuple[str, ...], Mapping[str, Any]], ...] = (
    (("emotion",), {"behavior": "NEUTRAL", "strength": "UNSPECIFIED"}),
    (
        ("control", "currentSceneStatus"),
        {"agents": [], "sceneName": "", "sceneDescription": "", "sceneDisplayName": ""},
    ),
    (
        ("control", "currentSceneStatus", "agents", "*", "characterAssets"),
        {
            "avatarImg": "",
            "avatarImgOriginal": "",
            "rpmModelUri": "",
            "rpmImageUriPortrait": "",
            "rpmImageUriPosture": "",
        },
    ),
)


@dataclass(frozen=True, slots=True)
class ReplyRoute:
    """The client's ids for the interaction a reply belongs to, and the conversation's mute."""

    conversation_id: str = ""
    correlation_id: str = ""
    muted: bool = False  # TTS_PLAYBACK_MUTE in effect: no audio


@dataclass(frozen=True, slots=True)
class AgentCard:
    """One character of a loaded scene, as CURRENT_SCENE_STATUS shows it."""

    agent_id: str
    brain_name: str  # the exact resource name the client asked for
    given_name: str
    avatar_img: str = ""
    avatar_img_original: str = ""
    rpm_model_uri: str = ""
    rpm_image_uri_portrait: str = ""
    rpm_image_uri_posture: str = ""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class PacketEncoder:
    """Builds server packets for one client. ``clock`` and ``new_id`` are injectable for tests."""

    def __init__(
        self,
        capabilities: di.Capabilities,
        *,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self.capabilities = capabilities
        self._clock = clock
        self._new_id = new_id

    def wants(self, event: Event) -> bool:
        gate = _GATES.get(type(event), ())
        return not gate or any(getattr(self.capabilities, name) for name in gate)

    # -- turn events ---------------------------------------------------------------------

    def event(self, event: Event, route: ReplyRoute | None = None) -> pb.InworldPacket | None:
        """The packet for one turn event, or None when this client does not receive it."""
        route = route or ReplyRoute()
        if not self.wants(event):
            return None
        utterance_id = getattr(event, "utterance_id", "")
        packet = self._reply(event.agent_id, event.interaction_id, utterance_id, route)
        match event:
            case Utterance(text=text):
                packet.text.text = text
                packet.text.source_type = pb.TextEvent.GENERATED
                packet.text.final = True
            case NarratedAction(text=text):
                packet.action.narrated_action.content = text
            case EmotionChanged(behavior=behavior, strength=strength):
                packet.emotion.CopyFrom(
                    pb.EmotionEvent(
                        behavior="NEUTRAL" if behavior.value == 0 else behavior.name,
                        strength="UNSPECIFIED" if strength.value == 0 else strength.name,
                    )
                )
            case TriggerFired(name=name, parameters=parameters):
                packet.custom.name = name
                packet.custom.type = pb.CustomEvent.TRIGGER
                for key, value in parameters:
                    packet.custom.parameters.add(name=key, value=value)
            case AudioChunk():
                if route.muted:
                    return None
                chunk = packet.data_chunk
                chunk.chunk = as_wav(event.audio, event.sample_rate)
                chunk.type = pb.DataChunk.AUDIO
                if self.capabilities.phoneme_info:
                    for phoneme, start in event.phonemes:
                        info = chunk.additional_phoneme_info.add(phoneme=phoneme)
                        info.start_offset.FromNanoseconds(round(start * 1e9))
            case Silence(duration_ms=ms):
                packet.data_chunk.type = pb.DataChunk.SILENCE
                packet.data_chunk.duration_ms = ms
            case RelationshipChanged():
                update = packet.debug_info.relation.relation_update
                update.trust = event.trust
                update.respect = event.respect
                update.familiar = event.familiar
                update.flirtatious = event.flirtatious
                update.attraction = event.attraction
            case InteractionEnd():
                packet.control.action = pb.ControlEvent.INTERACTION_END
        return packet

    def silence(
        self, agent_id: str, interaction_id: str, utterance_id: str, ms: int, route: ReplyRoute
    ) -> pb.InworldPacket | None:
        """A pause between utterances (only with ``silence_events``)."""
        if not self.capabilities.silence_events:
            return None
        packet = self._reply(agent_id, interaction_id, utterance_id, route)
        packet.data_chunk.type = pb.DataChunk.SILENCE
        packet.data_chunk.duration_ms = ms
        return packet

    # -- session-level packets --------------------------------------------------------------

    def scene_status(
        self,
        scene_name: str,
        agents: Sequence[AgentCard],
        *,
        description: str = "",
        display_name: str = "",
    ) -> pb.InworldPacket:
        """CURRENT_SCENE_STATUS: the answer to loadScene/loadCharacters (always the full list)."""
        packet = self._envelope(pb.Actor.WORLD, target=pb.Actor.PLAYER)
        packet.control.action = pb.ControlEvent.CURRENT_SCENE_STATUS
        status = packet.control.current_scene_status
        status.scene_name = scene_name
        status.scene_description = description
        status.scene_display_name = display_name
        for card in agents:
            agent = status.agents.add(
                agent_id=card.agent_id, brain_name=card.brain_name, given_name=card.given_name
            )
            assets = agent.character_assets
            assets.avatar_img = card.avatar_img
            assets.avatar_img_original = card.avatar_img_original
            assets.rpm_model_uri = card.rpm_model_uri
            assets.rpm_image_uri_portrait = card.rpm_image_uri_portrait
            assets.rpm_image_uri_posture = card.rpm_image_uri_posture
        return packet

    def conversation_event(
        self,
        conversation_id: str,
        participants: Sequence[di.Participant],
        event_type: str = "STARTED",
    ) -> pb.InworldPacket:
        """CONVERSATION_EVENT (STARTED | UPDATED | EVICTED) answering a CONVERSATION_UPDATE."""
        packet = self._envelope(pb.Actor.WORLD)
        packet.packet_id.conversation_id = conversation_id
        packet.control.action = pb.ControlEvent.CONVERSATION_EVENT
        packet.control.conversation_event.CopyFrom(
            pb.ConversationEventPayload(
                event_type=event_type, participants=[_actor(p) for p in participants]
            )
        )
        return packet

    def ping(self) -> pb.InworldPacket:
        """A PING the client answers with a PONG (pingTimestamp is mandatory for web)."""
        packet = self._envelope(pb.Actor.WORLD, target=pb.Actor.PLAYER)
        ping = packet.latency_report.ping_pong
        ping.type = pb.PingPongReport.PING
        ping.ping_timestamp.CopyFrom(packet.timestamp)
        return packet

    def warning(self, text: str, conversation_id: str = "") -> pb.InworldPacket:
        packet = self._envelope(pb.Actor.WORLD, target=pb.Actor.PLAYER)
        packet.packet_id.conversation_id = conversation_id
        packet.control.action = pb.ControlEvent.WARNING
        packet.control.description = text
        return packet

    def log(self, text: str, level: str = "INFO") -> pb.InworldPacket | None:
        """A log line, only when the client asked for ``level`` (WARNING/INFO/DEBUG/INTERNAL)."""
        if not (self.capabilities.logs and getattr(self.capabilities, _LOG_GATES[level])):
            return None
        packet = self._envelope(pb.Actor.WORLD, target=pb.Actor.PLAYER)
        packet.log.CopyFrom(pb.LogsEvent(text=text, level=level))
        return packet

    def transcript(
        self,
        text: str,
        *,
        final: bool,
        interaction_id: str,
        utterance_id: str,
        conversation_id: str,
        agent_ids: Sequence[str] = (),
    ) -> pb.InworldPacket:
        """The player's recognised speech; announces the server-minted interaction id (§4.3)."""
        packet = self._envelope(pb.Actor.PLAYER)
        for agent_id in agent_ids:
            packet.routing.targets.add(type=pb.Actor.AGENT, name=agent_id)
        ids = packet.packet_id
        ids.interaction_id, ids.utterance_id = interaction_id, utterance_id
        ids.conversation_id = conversation_id
        packet.text.text = text
        packet.text.source_type = pb.TextEvent.SPEECH_TO_TEXT
        packet.text.final = final
        return packet

    # -- envelope ------------------------------------------------------------------------------

    def _envelope(
        self, source: pb.Actor.Type, *, name: str = "", target: pb.Actor.Type | None = None
    ) -> pb.InworldPacket:
        packet = pb.InworldPacket()
        packet.timestamp.FromDatetime(self._clock())
        packet.packet_id.packet_id = self._new_id()
        packet.routing.source.type = source
        if name:
            packet.routing.source.name = name
        if target is not None:
            packet.routing.target.type = target
        return packet

    def _reply(
        self, agent_id: str, interaction_id: str, utterance_id: str, route: ReplyRoute
    ) -> pb.InworldPacket:
        packet = self._envelope(pb.Actor.AGENT, name=agent_id)
        packet.routing.targets.add(type=pb.Actor.PLAYER)
        ids = packet.packet_id
        ids.interaction_id = interaction_id
        ids.utterance_id = utterance_id
        ids.correlation_id = route.correlation_id
        ids.conversation_id = route.conversation_id
        return packet


def _actor(participant: di.Participant) -> pb.Actor:
    return pb.Actor(type=participant.kind.name, name=participant.agent_id)


def as_wav(audio: bytes, sample_rate: int) -> bytes:
    """Web decodes every chunk on its own: raw 16-bit mono PCM gets a WAV header; WAV/MP3 pass."""
    if audio[:4] == b"RIFF" or audio[:3] == b"ID3" or audio[:2] in (b"\xff\xfb", b"\xff\xf3"):
        return audio
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(audio)
    return buffer.getvalue()


# -- JSON frames (WebSocket face) --------------------------------------------------------------


def to_json(message: Message) -> dict[str, Any]:
    """proto3 JSON of a packet, with the zero values the web client needs printed."""
    data: dict[str, Any] = json_format.MessageToDict(message)
    for path, defaults in _ALWAYS_PRINT:
        for node in _walk(data, path):
            for key, value in defaults.items():
                node.setdefault(key, list(value) if isinstance(value, list) else value)
    return data


def _walk(node: Any, path: tuple[str, ...]) -> list[dict[str, Any]]:
    if not path:
        return [node] if isinstance(node, dict) else []
    head, rest = path[0], path[1:]
    if head == "*":
        return [n for item in node for n in _walk(item, rest)] if isinstance(node, list) else []
    if not isinstance(node, dict) or head not in node:
        return []
    return _walk(node[head], rest)


def result_frame(packet: pb.InworldPacket) -> dict[str, Any]:
    return {"result": to_json(packet)}


# -- errors ---------------------------------------------------------------------------------


def inworld_status(
    error_type: str,
    reconnect: str = "NO_RETRY",
    *,
    max_retries: int | None = None,
    reconnect_time: datetime | None = None,
    conversation_not_found: str | None = None,
) -> dict[str, Any]:
    """An ``InworldStatus`` error detail (JSON), to put in ``AnimaError.details``.

    ``error_type`` is an ``ai.inworld.common.ErrorType`` name (SESSION_TOKEN_EXPIRED,
    SESSION_INVALID...), ``reconnect`` a ``ReconnectionType`` name (NO_RETRY, IMMEDIATE, TIMEOUT).
    """
    status = inworld_status_pb2.InworldStatus(error_type=error_type, reconnect_type=reconnect)
    if max_retries is not None:
        status.max_retries = max_retries
    if reconnect_time is not None:
        status.reconnect_time.FromDatetime(reconnect_time)
    if conversation_not_found is not None:
        status.resource_not_found.resource_id = conversation_not_found
        status.resource_not_found.resource_type = inworld_status_pb2.RESOURCE_TYPE_CONVERSATION
    detail = {"@type": INWORLD_STATUS_TYPE, **json_format.MessageToDict(status)}
    detail["errorType"] = error_type  # value 0 (SESSION_TOKEN_EXPIRED) would vanish otherwise
    return detail


def _inworld_details(exc: AnimaError) -> list[dict[str, Any]]:
    return [d for d in exc.details if d.get("@type") == INWORLD_STATUS_TYPE]


def status_json(exc: AnimaError) -> dict[str, Any]:
    """The bare ``google.rpc.Status`` JSON the web SDK parses (gRPC code, InworldStatus details)."""
    return {"code": exc.grpc_code, "message": exc.message, "details": _inworld_details(exc)}


def error_frame(exc: AnimaError) -> dict[str, Any]:
    """The WebSocket error frame; close the socket after sending it (spec §4.4)."""
    return {"error": status_json(exc)}


def status_proto(exc: AnimaError) -> status_pb2.Status:
    """``google.rpc.Status`` for the gRPC trailer ``grpc-status-details-bin``."""
    status = status_pb2.Status(code=exc.grpc_code, message=exc.message)
    for detail in _inworld_details(exc):
        body = {k: v for k, v in detail.items() if k != "@type"}
        message = json_format.ParseDict(body, inworld_status_pb2.InworldStatus())
        packed = any_pb2.Any()
        packed.Pack(message)
        status.details.append(packed)
    return status
