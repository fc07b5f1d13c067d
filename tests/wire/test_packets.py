"""Server packets: domain events and session packets -> InworldPacket, checked against the
golden JSON of streaming-protocol.md (§3.1, §4.3, §4.4)."""

from __future__ import annotations

import base64
import io
import json
import wave
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from anima.domain.events import (
    AudioChunk,
    EmotionChanged,
    InteractionEnd,
    NarratedAction,
    RelationshipChanged,
    SpaffCode,
    Strength,
    TriggerFired,
    Utterance,
)
from anima.domain.inputs import ActorKind, Capabilities, Participant
from anima.errors import Unauthenticated, Unavailable
from anima.wire.packets import (
    AgentCard,
    PacketEncoder,
    ReplyRoute,
    error_frame,
    inworld_status,
    result_frame,
    status_proto,
    to_json,
)
from anima.wire.pb.ai.inworld.common import status_pb2 as inworld_status_pb2
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb

TS = "2025-01-01T00:00:00.123Z"
WHEN = datetime(2025, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
ALL = Capabilities(
    audio=True,
    emotions=True,
    narrated_actions=True,
    phoneme_info=True,
    silence_events=True,
    relations=True,
    logs=True,
    logs_info=True,
)
ROUTE = ReplyRoute(conversation_id="c1")


def encoder(capabilities: Capabilities = ALL) -> PacketEncoder:
    ids = count(1)
    return PacketEncoder(capabilities, clock=lambda: WHEN, new_id=lambda: f"s{next(ids)}")


def frame(packet: pb.InworldPacket | None) -> dict[str, Any]:
    assert packet is not None
    return json.loads(json.dumps(result_frame(packet)))  # what goes over the socket


def test_agent_text_reply_matches_the_spec() -> None:
    packet = encoder().event(Utterance("i1", "u1", "agent-1", "Hi Bob!"), ROUTE)
    assert frame(packet) == {
        "result": {
            "packetId": {
                "packetId": "s1",
                "utteranceId": "u1",
                "interactionId": "i1",
                "conversationId": "c1",
            },
            "timestamp": TS,
            "routing": {
                "source": {"type": "AGENT", "name": "agent-1"},
                "targets": [{"type": "PLAYER"}],
            },
            "text": {"text": "Hi Bob!", "sourceType": "GENERATED", "final": True},
        }
    }


def test_correlation_id_is_echoed_when_known() -> None:
    route = ReplyRoute(conversation_id="c1", correlation_id="corr-1")
    packet = encoder().event(Utterance("i1", "u1", "agent-1", "x"), route)
    assert frame(packet)["result"]["packetId"]["correlationId"] == "corr-1"


def test_current_scene_status_matches_the_spec() -> None:
    scene = "workspaces/test-ws/characters/alice"
    card = AgentCard("agent-1", scene, "Alice", avatar_img="https://example.com/a.png")
    assert frame(encoder().scene_status(scene, [card])) == {
        "result": {
            "packetId": {"packetId": "s1"},
            "timestamp": TS,
            "routing": {"source": {"type": "WORLD"}, "target": {"type": "PLAYER"}},
            "control": {
                "action": "CURRENT_SCENE_STATUS",
                "currentSceneStatus": {
                    "sceneName": scene,
                    "sceneDisplayName": "",
                    "sceneDescription": "",
                    "agents": [
                        {
                            "agentId": "agent-1",
                            "brainName": scene,
                            "givenName": "Alice",
                            "characterAssets": {
                                "avatarImg": "https://example.com/a.png",
                                "avatarImgOriginal": "",
                                "rpmModelUri": "",
                                "rpmImageUriPortrait": "",
                                "rpmImageUriPosture": "",
                            },
                        }
                    ],
                },
            },
        }
    }


def test_scene_status_always_has_an_agents_array() -> None:
    status = frame(encoder().scene_status("workspaces/w/scenes/s", []))
    assert status["result"]["control"]["currentSceneStatus"]["agents"] == []


def test_conversation_event_matches_the_spec() -> None:
    participants = [Participant(ActorKind.AGENT, "agent-1"), Participant(ActorKind.PLAYER)]
    assert frame(encoder().conversation_event("c1", participants)) == {
        "result": {
            "packetId": {"packetId": "s1", "conversationId": "c1"},
            "timestamp": TS,
            "routing": {"source": {"type": "WORLD"}},
            "control": {
                "action": "CONVERSATION_EVENT",
                "conversationEvent": {
                    "eventType": "STARTED",
                    "participants": [{"name": "agent-1", "type": "AGENT"}, {"type": "PLAYER"}],
                },
            },
        }
    }


@pytest.mark.parametrize(
    ("behavior", "strength", "expected"),
    [
        (SpaffCode.JOY, Strength.STRONG, {"behavior": "JOY", "strength": "STRONG"}),
        # NEUTRAL is proto value 0: it must still be written (spec §4.3).
        (SpaffCode.NEUTRAL, Strength.NORMAL, {"behavior": "NEUTRAL", "strength": "NORMAL"}),
        (
            SpaffCode.SPAFF_CODE_UNSPECIFIED,
            Strength.STRENGTH_UNSPECIFIED,
            {"behavior": "NEUTRAL", "strength": "UNSPECIFIED"},
        ),
        (SpaffCode.TENSE_HUMOR, Strength.WEAK, {"behavior": "TENSE_HUMOR", "strength": "WEAK"}),
    ],
)
def test_emotion(behavior: SpaffCode, strength: Strength, expected: dict[str, str]) -> None:
    packet = encoder().event(EmotionChanged("i1", "u1", "agent-1", behavior, strength), ROUTE)
    result = frame(packet)["result"]
    assert result["emotion"] == expected
    assert result["packetId"]["utteranceId"] == "u1"


def test_every_domain_behaviour_has_a_wire_name() -> None:
    for code in SpaffCode:
        packet = encoder().event(EmotionChanged("i", "u", "a", code, Strength.NORMAL), ROUTE)
        assert packet is not None


def test_audio_chunk_with_phonemes_matches_the_spec() -> None:
    pcm = b"\x01\x00\x02\x00" * 80
    packet = encoder().event(
        AudioChunk("i1", "u1", "agent-1", pcm, 16000, (("h", 0.12), ("i", 0.5))), ROUTE
    )
    chunk = frame(packet)["result"]["dataChunk"]
    assert chunk["type"] == "AUDIO"
    assert chunk["additionalPhonemeInfo"] == [
        {"phoneme": "h", "startOffset": "0.120s"},
        {"phoneme": "i", "startOffset": "0.500s"},
    ]
    # Each chunk must be a file the browser decodes on its own: WAV around the PCM.
    with wave.open(io.BytesIO(base64.b64decode(chunk["chunk"]))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.readframes(wav.getnframes()) == pcm


def test_audio_that_is_already_a_file_passes_untouched() -> None:
    mp3 = b"ID3\x04\x00rest-of-an-mp3"
    packet = encoder().event(AudioChunk("i1", "u1", "agent-1", mp3, 22050), ROUTE)
    assert packet is not None
    assert packet.data_chunk.chunk == mp3


def test_silence_matches_the_spec() -> None:
    packet = encoder().silence("agent-1", "i1", "u1", 500, ROUTE)
    assert frame(packet)["result"]["dataChunk"] == {"type": "SILENCE", "durationMs": "500"}


def test_narrated_action_trigger_and_relation() -> None:
    enc = encoder()
    action = frame(enc.event(NarratedAction("i1", "u2", "agent-1", "waves"), ROUTE))["result"]
    assert action["action"] == {"narratedAction": {"content": "waves"}}
    trigger = frame(enc.event(TriggerFired("i1", "agent-1", "greet", (("k", "v"),)), ROUTE))[
        "result"
    ]
    assert trigger["custom"] == {
        "name": "greet",
        "type": "TRIGGER",
        "parameters": [{"name": "k", "value": "v"}],
    }
    assert trigger["routing"]["source"] == {"type": "AGENT", "name": "agent-1"}
    relation = frame(enc.event(RelationshipChanged("i1", "agent-1", trust=2, respect=-1), ROUTE))[
        "result"
    ]
    assert relation["debugInfo"] == {"relation": {"relationUpdate": {"trust": 2, "respect": -1}}}


def test_interaction_end_carries_the_clients_ids() -> None:
    packet = encoder().event(InteractionEnd("i1", "agent-1"), ROUTE)
    assert frame(packet)["result"] == {
        "packetId": {"packetId": "s1", "interactionId": "i1", "conversationId": "c1"},
        "timestamp": TS,
        "routing": {
            "source": {"type": "AGENT", "name": "agent-1"},
            "targets": [{"type": "PLAYER"}],
        },
        "control": {"action": "INTERACTION_END"},
    }


def test_ping_has_its_timestamp() -> None:
    assert frame(encoder().ping())["result"]["latencyReport"] == {
        "pingPong": {"type": "PING", "pingTimestamp": TS}
    }


def test_player_transcript() -> None:
    packet = encoder().transcript(
        "hello",
        final=False,
        interaction_id="srv-i",
        utterance_id="srv-u",
        conversation_id="c1",
        agent_ids=["agent-1"],
    )
    result = frame(packet)["result"]
    assert result["text"] == {"text": "hello", "sourceType": "SPEECH_TO_TEXT"}
    assert result["routing"] == {
        "source": {"type": "PLAYER"},
        "targets": [{"type": "AGENT", "name": "agent-1"}],
    }
    assert result["packetId"]["interactionId"] == "srv-i"


def test_warning_and_logs() -> None:
    warning = frame(encoder().warning("careful"))["result"]
    assert warning["control"] == {"action": "WARNING", "description": "careful"}
    assert frame(encoder().log("hi", "INFO"))["result"]["log"] == {"text": "hi", "level": "INFO"}
    assert encoder().log("dbg", "DEBUG") is None


# -- capabilities decide what is sent -----------------------------------------------------


@pytest.mark.parametrize(
    ("event", "needs"),
    [
        (EmotionChanged("i", "u", "a", SpaffCode.JOY, Strength.STRONG), "emotions"),
        (NarratedAction("i", "u", "a", "waves"), "narrated_actions"),
        (AudioChunk("i", "u", "a", b"\0\0", 16000), "audio"),
        (RelationshipChanged("i", "a", trust=1), "relations"),
    ],
)
def test_events_the_client_did_not_ask_for_are_not_sent(event: Any, needs: str) -> None:
    assert encoder(Capabilities()).event(event, ROUTE) is None
    assert encoder(Capabilities(**{needs: True})).event(event, ROUTE) is not None


def test_text_and_interaction_end_are_always_sent() -> None:
    enc = encoder(Capabilities())
    assert enc.event(Utterance("i", "u", "a", "x"), ROUTE) is not None
    assert enc.event(InteractionEnd("i", "a", cancelled=True), ROUTE) is not None


def test_phonemes_only_when_asked_and_no_audio_when_muted() -> None:
    chunk = AudioChunk("i", "u", "a", b"\0\0", 16000, (("h", 0.0),))
    packet = encoder(Capabilities(audio=True)).event(chunk, ROUTE)
    assert packet is not None
    assert not packet.data_chunk.additional_phoneme_info
    assert encoder().event(chunk, ReplyRoute(conversation_id="c1", muted=True)) is None
    assert encoder(Capabilities(audio=True)).silence("a", "i", "u", 100, ROUTE) is None


def test_binary_round_trip_for_grpc() -> None:
    packet = encoder().event(Utterance("i1", "u1", "agent-1", "Hi"), ROUTE)
    assert packet is not None
    again = pb.InworldPacket.FromString(packet.SerializeToString())
    assert again == packet
    assert again.timestamp.ToDatetime(tzinfo=UTC) == WHEN


# -- errors ---------------------------------------------------------------------------------


def test_error_frame_matches_the_spec() -> None:
    exc = Unauthenticated(
        "token expired",
        details=[
            inworld_status(
                "SESSION_TOKEN_EXPIRED", "IMMEDIATE", max_retries=1, reconnect_time=WHEN
            ),
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"},
        ],
    )
    assert json.loads(json.dumps(error_frame(exc))) == {
        "error": {
            "code": 16,
            "message": "token expired",
            "details": [
                {
                    "@type": "type.googleapis.com/ai.inworld.common.InworldStatus",
                    "errorType": "SESSION_TOKEN_EXPIRED",
                    "reconnectType": "IMMEDIATE",
                    "reconnectTime": TS,
                    "maxRetries": 1,
                }
            ],
        }
    }


def test_conversation_not_found_detail() -> None:
    detail = inworld_status("RESOURCE_NOT_FOUND", conversation_not_found="c9")
    assert detail["resourceNotFound"] == {
        "resourceId": "c9",
        "resourceType": "RESOURCE_TYPE_CONVERSATION",
    }
    assert detail["reconnectType"] == "NO_RETRY"


def test_unknown_error_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="NOT_A_TYPE"):
        inworld_status("NOT_A_TYPE")


def test_status_proto_for_grpc_trailers() -> None:
    exc = Unavailable("lost", details=[inworld_status("SESSION_INVALID", "IMMEDIATE")])
    status = status_proto(exc)
    assert (status.code, status.message) == (14, "lost")
    detail = inworld_status_pb2.InworldStatus()
    assert status.details[0].Unpack(detail)
    assert detail.error_type == inworld_status_pb2.SESSION_INVALID
    assert detail.reconnect_type == inworld_status_pb2.IMMEDIATE
    token_expired = status_proto(
        Unauthenticated("x", details=[inworld_status("SESSION_TOKEN_EXPIRED")])
    )
    assert token_expired.details[0].Unpack(detail)
    assert detail.error_type == inworld_status_pb2.SESSION_TOKEN_EXPIRED


def test_to_json_leaves_other_messages_alone() -> None:
    assert to_json(pb.Actor(type=pb.Actor.PLAYER)) == {"type": "PLAYER"}
