"""The older streaming protocol (node SDK 0.9.x and 1.5 to 1.11) in terms of the newer one.

Those SDKs set a session up out of band, with the unary ``WorldEngine/LoadScene``, and then
open ``WorldEngine/Session``, a packet stream with no handshake of its own. Rather than a
second mapping, a ``LoadSceneRequest`` is translated here into the two packets a newer client
sends first (SESSION_CONFIGURATION and a loadScene mutation), so the same decoder
(wire/inputs.py) and the same streaming core (pipeline/stream.py) serve both::

    LoadSceneRequest  -> (SESSION_CONFIGURATION packet, loadScene packet)   handshake_packets
    SceneShown        -> LoadSceneResponse                                  load_scene_response
    InworldPacket     -> InworldPacket the old SDKs can read                legacy_packet

The packet messages themselves did not change (same field numbers; the old SDKs ignore the
fields they do not know), with one exception handled by ``legacy_packet``: they read
``routing.target`` of every packet unconditionally, where newer replies use ``targets``.
"""

from __future__ import annotations

from anima.pipeline.stream import SceneShown
from anima.wire.pb.ai.inworld.engine import world_engine_pb2 as we
from anima.wire.pb.ai.inworld.engine.configuration import configuration_pb2 as cfg
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb

# CapabilitiesRequest fields that mean the same as the newer CapabilitiesConfiguration's.
_CAPABILITIES = (
    "audio",
    "interruptions",
    "emotions",
    "turn_based_stt",
    "emotion_streaming",
    "silence_events",
    "phoneme_info",
    "continuation",
    "session_cancellation",
    "narrated_actions",
    "regenerate_response",
    "relations",
    "debug_info",
    "tts_mp3",
)
_TALKERS = {
    we.PreviousDialog.PLAYER: pb.Actor.PLAYER,
    we.PreviousDialog.CHARACTER: pb.Actor.AGENT,
}


def handshake_packets(request: we.LoadSceneRequest) -> tuple[pb.InworldPacket, pb.InworldPacket]:
    """The SESSION_CONFIGURATION and loadScene packets that say what ``request`` says."""
    configure = pb.InworldPacket()
    configure.control.action = pb.ControlEvent.SESSION_CONFIGURATION
    payload = configure.control.session_configuration
    capabilities = payload.capabilities_configuration
    for name in _CAPABILITIES:
        setattr(capabilities, name, getattr(request.capabilities, name))
    if request.HasField("user") or request.HasField("user_settings"):
        payload.user_configuration.CopyFrom(_user(request))
    if request.HasField("client"):
        client = request.client
        payload.client_configuration.CopyFrom(
            cfg.ClientConfiguration(
                id=client.id, version=client.version, description=client.description
            )
        )
    if request.HasField("session_continuation"):
        _continuation(request.session_continuation, payload.continuation)
    load = pb.InworldPacket()
    load.mutation.load_scene.name = request.name
    return configure, load


def _user(request: we.LoadSceneRequest) -> cfg.UserConfiguration:
    user = cfg.UserConfiguration(id=request.user.id, name=request.user.name)
    settings = request.user_settings
    user.user_settings.view_transcript_consent = settings.view_transcript_consent
    for field in settings.player_profile.fields:
        user.user_settings.player_profile.fields.add(
            field_id=field.field_id, field_value=field.field_value
        )
    return user


def _continuation(given: we.SessionContinuation, into: pb.Continuation) -> None:
    if given.previous_state:
        into.continuation_type = pb.Continuation.CONTINUATION_TYPE_EXTERNALLY_SAVED_STATE
        into.externally_saved_state = given.previous_state
    elif given.HasField("previous_dialog"):
        into.continuation_type = pb.Continuation.CONTINUATION_TYPE_DIALOG_HISTORY
        for phrase in given.previous_dialog.phrases:
            item = into.dialog_history.history.add(text=phrase.phrase)
            item.actor.type = _TALKERS.get(phrase.talker, pb.Actor.UNKNOWN)


def load_scene_response(scene: SceneShown, key: str) -> we.LoadSceneResponse:
    """The agents of the loaded scene; ``key`` is opaque to the SDKs (they keep it)."""
    response = we.LoadSceneResponse(key=key)
    for agent in scene.agents:
        added = response.agents.add(
            agent_id=agent.agent_id, brain_name=agent.brain_name, given_name=agent.given_name
        )
        added.character_assets.avatar_img = agent.avatar_img
        added.character_assets.avatar_img_original = agent.avatar_img_original
    return response


def legacy_packet(packet: pb.InworldPacket) -> pb.InworldPacket:
    """``packet`` with ``routing.target`` set: the old SDKs read ``target.getName()`` of every
    packet and fail on an absent one. A reply's target is its first ``targets`` entry."""
    routing = packet.routing
    if not routing.HasField("target"):
        if routing.targets:
            routing.target.CopyFrom(routing.targets[0])
        else:
            routing.target.type = pb.Actor.PLAYER
    return packet
