"""Client packets -> ``ClientInput`` (anima.domain.inputs): the decoding half of the codec.

Both faces end here: gRPC hands over the ``InworldPacket`` it received, the WebSocket face
first turns the frame into one with ``parse_json``. Decoding is lenient as the spec asks
(§3.4, §4.5 item 6): unknown JSON fields are dropped, payload-less packets and payloads the
engine has no use for become ``Ignored``; only malformed JSON is an error.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from google.protobuf import json_format

from anima.domain import inputs as di
from anima.errors import InvalidArgument
from anima.wire import nesting, text
from anima.wire.engine import MAX_NAME_CHARS, MAX_PARAMETERS, MAX_VALUE_CHARS
from anima.wire.pb.ai.inworld.engine.configuration import configuration_pb2 as cfg
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb

# The web SDK may send its user-level capability names (spec §3.4).
_CAPABILITY_ALIASES = {"phonemes": "phonemeInfo", "silence": "silenceEvents"}
_ACTOR_KINDS = {
    pb.Actor.PLAYER: di.ActorKind.PLAYER,
    pb.Actor.AGENT: di.ActorKind.AGENT,
    pb.Actor.WORLD: di.ActorKind.WORLD,
}


def parse_json(frame: str | bytes | Mapping[str, Any]) -> pb.InworldPacket:
    """A client WebSocket frame (the bare packet JSON) -> InworldPacket."""
    if isinstance(frame, str | bytes):
        data = text.loads(frame, what="frame")
    else:
        data = text.check_tree(copy.deepcopy(nesting.check_depth(dict(frame), "frame")))
    if not isinstance(data, dict):
        raise InvalidArgument("a packet frame must be a JSON object (an InworldPacket)")
    _alias_capabilities(data)
    try:
        return json_format.ParseDict(data, pb.InworldPacket(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise InvalidArgument(f"malformed packet: {exc}") from exc


def decode_json(frame: str | bytes | Mapping[str, Any]) -> di.ClientInput:
    return decode(parse_json(frame))


def decode(packet: pb.InworldPacket) -> di.ClientInput:
    """The one client input a packet carries."""
    text.check_message(packet)
    ids = _ids(packet.packet_id)
    kind = packet.WhichOneof("packet")
    target = _target_agent(packet.routing)
    match kind:
        case "text":
            return di.TextSent(packet.text.text, target, ids)
        case "custom":
            if len(packet.custom.parameters) > MAX_PARAMETERS:
                raise InvalidArgument(
                    f"at most {MAX_PARAMETERS} parameters are allowed", field="custom.parameters"
                )
            for p in packet.custom.parameters:
                _limit(p.name, MAX_NAME_CHARS, "custom.parameters.name")
                _limit(p.value, MAX_VALUE_CHARS, "custom.parameters.value")
            params = tuple((p.name, p.value) for p in packet.custom.parameters)
            return di.TriggerSent(packet.custom.name, params, target, ids)
        case "action" if packet.action.HasField("narrated_action"):
            return di.NarratedActionSent(packet.action.narrated_action.content, target, ids)
        case "control":
            return _control(packet.control, ids)
        case "data_chunk" if packet.data_chunk.WhichOneof("data") == "chunk":
            if packet.data_chunk.type in (pb.DataChunk.AUDIO, pb.DataChunk.UNSPECIFIED):
                chunk = packet.data_chunk
                audio_format = (
                    pb.DataChunk.AudioFormat.Name(chunk.audio_format) if chunk.audio_format else ""
                )
                return di.AudioReceived(chunk.chunk, ids, audio_format)
        case "audio_chunk":
            return di.AudioReceived(packet.audio_chunk.chunk, ids)
        case "mutation":
            return _mutation(packet.mutation, ids)
        case "cancel_responses":
            legacy = packet.cancel_responses
            return di.ResponsesCancelled(legacy.interaction_id, tuple(legacy.utterance_id), ids)
        case "session_control":
            return _session_control(packet.session_control, ids)
        case "latency_report":
            return _latency(packet.latency_report, ids)
    return di.Ignored(kind or "empty packet", ids)


def _control(control: pb.ControlEvent, ids: di.InputIds) -> di.ClientInput:
    action = control.action
    if action == pb.ControlEvent.SESSION_CONFIGURATION:
        return _session_configuration(control.session_configuration, ids)
    if action == pb.ControlEvent.CONVERSATION_UPDATE:
        participants = tuple(_participant(a) for a in control.conversation_update.participants)
        return di.ConversationUpdated(participants, ids)
    if action == pb.ControlEvent.AUDIO_SESSION_START:
        start = control.audio_session_start
        return di.AudioSessionStarted(
            push_to_talk=start.mode == pb.AudioSessionStartPayload.EXPECT_AUDIO_END,
            transcribe_only=start.understanding_mode
            == pb.AudioSessionStartPayload.SPEECH_RECOGNITION_ONLY,
            ids=ids,
        )
    if action == pb.ControlEvent.AUDIO_SESSION_END:
        return di.AudioSessionEnded(ids)
    if action in (pb.ControlEvent.TTS_PLAYBACK_MUTE, pb.ControlEvent.TTS_PLAYBACK_UNMUTE):
        return di.PlaybackMuted(action == pb.ControlEvent.TTS_PLAYBACK_MUTE, ids)
    return di.Ignored(f"control {pb.ControlEvent.Action.Name(action)}", ids)


def _mutation(mutation: pb.MutationEvent, ids: di.InputIds) -> di.ClientInput:
    kind = mutation.WhichOneof("mutation")
    if kind == "cancel_responses":
        cancel = mutation.cancel_responses
        return di.ResponsesCancelled(cancel.interaction_id, tuple(cancel.utterance_id), ids)
    if kind == "load_scene":
        return di.SceneRequested(mutation.load_scene.name, mutation.load_scene.is_reset_scene, ids)
    if kind == "load_characters":
        names = tuple(c.name for c in mutation.load_characters.name)
        return di.CharactersAdded(names, ids)
    if kind == "unload_characters":
        agent_ids = tuple(a.agent_id for a in mutation.unload_characters.agents)
        return di.CharactersRemoved(agent_ids, ids)
    return di.Ignored(f"mutation {kind or 'without payload'}", ids)


def _session_control(control: pb.SessionControlEvent, ids: di.InputIds) -> di.ClientInput:
    kind = control.WhichOneof("session_control")
    if kind == "session_history_request":
        return di.SessionHistoryRequested(ids)
    if kind == "session_configuration_payload":
        return _session_configuration(control.session_configuration_payload, ids)
    if kind == "capabilities_configuration":
        return di.SessionConfigured(
            capabilities=_capabilities(control.capabilities_configuration), ids=ids
        )
    if kind == "session_configuration":
        return di.SessionConfigured(
            game_session_id=control.session_configuration.game_session_id, ids=ids
        )
    if kind == "user_configuration":
        return di.SessionConfigured(user=_user(control.user_configuration), ids=ids)
    if kind == "client_configuration":
        return di.SessionConfigured(client=_client(control.client_configuration), ids=ids)
    if kind == "continuation":
        return di.SessionConfigured(continuation=_continuation(control.continuation), ids=ids)
    return di.Ignored("session control without payload", ids)


def _latency(report: pb.LatencyReportEvent, ids: di.InputIds) -> di.ClientInput:
    kind = report.WhichOneof("report")
    if kind == "ping_pong" and report.ping_pong.type == pb.PingPongReport.PONG:
        ping = report.ping_pong
        when = (
            ping.ping_timestamp.ToDatetime(tzinfo=UTC) if ping.HasField("ping_timestamp") else None
        )
        return di.PongReceived(ping.ping_packet_id.packet_id, when, ids)
    if kind == "perceived_latency":
        latency = report.perceived_latency
        precision = pb.PerceivedLatencyReport.Precision.Name(latency.precision)
        return di.LatencyReported(latency.latency.ToNanoseconds() / 1e9, precision, ids)
    return di.Ignored(f"latency report {kind or 'without payload'}", ids)


def _session_configuration(
    payload: pb.SessionConfigurationPayload, ids: di.InputIds
) -> di.SessionConfigured:
    return di.SessionConfigured(
        # The client always sends capabilities with a configuration: absent means all off.
        capabilities=_capabilities(payload.capabilities_configuration),
        game_session_id=payload.session_configuration.game_session_id
        if payload.HasField("session_configuration")
        else None,
        user=_user(payload.user_configuration) if payload.HasField("user_configuration") else None,
        client=_client(payload.client_configuration)
        if payload.HasField("client_configuration")
        else None,
        continuation=_continuation(payload.continuation)
        if payload.HasField("continuation")
        else None,
        ids=ids,
    )


def _capabilities(message: cfg.CapabilitiesConfiguration) -> di.Capabilities:
    return di.Capabilities(
        **{name: bool(getattr(message, name)) for name in di.Capabilities.names()}
    )


def _user(message: cfg.UserConfiguration) -> di.UserInfo:
    fields = message.user_settings.player_profile.fields
    _limit(message.id, MAX_NAME_CHARS, "userConfiguration.id")
    _limit(message.name, MAX_NAME_CHARS, "userConfiguration.name")
    if len(fields) > MAX_PARAMETERS:
        raise InvalidArgument(
            f"userConfiguration has {len(fields)} profile fields; at most {MAX_PARAMETERS} are "
            "allowed",
            field="userConfiguration.userSettings.playerProfile.fields",
        )
    for f in fields:
        _limit(f.field_id, MAX_NAME_CHARS, "playerProfile.fields.fieldId")
        _limit(f.field_value, MAX_VALUE_CHARS, "playerProfile.fields.fieldValue")
    return di.UserInfo(message.id, message.name, tuple((f.field_id, f.field_value) for f in fields))


def _limit(value: str, limit: int, field: str) -> None:
    """The length limits of the REST face (wire/engine.py), on what the streaming faces send."""
    if len(value) > limit:
        raise InvalidArgument(
            f"{field} is {len(value)} characters; at most {limit} are allowed", field=field
        )


def _client(message: cfg.ClientConfiguration) -> di.ClientInfo:
    return di.ClientInfo(message.id, message.version, message.description)


def _continuation(message: pb.Continuation) -> di.Continuation | None:
    if message.continuation_type == pb.Continuation.CONTINUATION_TYPE_EXTERNALLY_SAVED_STATE:
        return di.SavedStateContinuation(message.externally_saved_state)
    if message.continuation_type == pb.Continuation.CONTINUATION_TYPE_DIALOG_HISTORY or len(
        message.dialog_history.history
    ):
        turns = tuple(
            di.DialogTurn(_participant(item.actor).kind, item.text, item.actor.name)
            for item in message.dialog_history.history
        )
        return di.DialogContinuation(turns)
    if message.externally_saved_state:
        return di.SavedStateContinuation(message.externally_saved_state)
    return None


def _ids(packet_id: pb.PacketId) -> di.InputIds:
    return di.InputIds(
        packet_id=packet_id.packet_id,
        utterance_id=packet_id.utterance_id,
        interaction_id=packet_id.interaction_id,
        correlation_id=packet_id.correlation_id,
        conversation_id=packet_id.conversation_id,
    )


def _participant(actor: pb.Actor) -> di.Participant:
    return di.Participant(_ACTOR_KINDS.get(actor.type, di.ActorKind.UNKNOWN), actor.name)


def _target_agent(routing: pb.Routing) -> str:
    """The agent a packet is addressed to: ``target`` when it has a type, else ``targets``."""
    actors = [routing.target] if routing.target.type else list(routing.targets)
    return next((a.name for a in actors if a.type == pb.Actor.AGENT), "")


def _alias_capabilities(node: Any) -> None:
    if isinstance(node, dict):
        caps = node.get("capabilitiesConfiguration")
        if isinstance(caps, dict):
            for alias, name in _CAPABILITY_ALIASES.items():
                if alias in caps:
                    caps.setdefault(name, caps.pop(alias))
        for value in node.values():
            _alias_capabilities(value)
    elif isinstance(node, list):
        for item in node:
            _alias_capabilities(item)
