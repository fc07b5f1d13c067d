"""Client packets -> ClientInput, from the client JSON of streaming-protocol.md."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import json_format

from anima.domain import inputs as di
from anima.errors import InvalidArgument
from anima.wire.inputs import decode, decode_json, parse_json
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb

PLAYER_TO_WORLD = {"source": {"type": "PLAYER"}, "target": {"type": "WORLD"}}

# spec §3.1 step 3, first packet, verbatim
SESSION_CONFIGURATION = {
    "packetId": {"packetId": "p1"},
    "timestamp": "2025-01-01T00:00:00.000Z",
    "routing": PLAYER_TO_WORLD,
    "control": {
        "action": "SESSION_CONFIGURATION",
        "sessionConfiguration": {
            "capabilitiesConfiguration": {
                "audio": True,
                "debugInfo": False,
                "emotions": True,
                "interruptions": False,
                "logs": True,
                "logsWarning": True,
                "logsInfo": True,
                "logsDebug": False,
                "logsInternal": False,
                "multiAgent": True,
                "multiModalActionPlanning": False,
                "narratedActions": False,
                "perceivedLatencyReport": True,
                "phonemeInfo": True,
                "pingPongReport": True,
                "silenceEvents": False,
            },
            "sessionConfiguration": {"gameSessionId": "g1"},
            "clientConfiguration": {
                "id": "web",
                "version": "2.10.0",
                "description": "web; 2.10.0; node-test (iPhone)",
            },
            "userConfiguration": {
                "id": "user-1",
                "name": "Bob",
                "userSettings": {
                    "playerProfile": {"fields": [{"fieldId": "f", "fieldValue": "v"}]}
                },
            },
            "continuation": {
                "continuationType": "CONTINUATION_TYPE_DIALOG_HISTORY",
                "dialogHistory": {
                    "history": [
                        {"actor": {"type": "PLAYER"}, "text": "hi"},
                        {"actor": {"type": "AGENT"}, "text": "hello"},
                    ]
                },
            },
        },
    },
}


def test_session_configuration() -> None:
    got = decode_json(json.dumps(SESSION_CONFIGURATION))
    assert got == di.SessionConfigured(
        capabilities=di.Capabilities(
            audio=True,
            emotions=True,
            logs=True,
            logs_warning=True,
            logs_info=True,
            multi_agent=True,
            perceived_latency_report=True,
            phoneme_info=True,
            ping_pong_report=True,
        ),
        game_session_id="g1",
        user=di.UserInfo("user-1", "Bob", (("f", "v"),)),
        client=di.ClientInfo("web", "2.10.0", "web; 2.10.0; node-test (iPhone)"),
        continuation=di.DialogContinuation(
            (di.DialogTurn(di.ActorKind.PLAYER, "hi"), di.DialogTurn(di.ActorKind.AGENT, "hello"))
        ),
        ids=di.InputIds(packet_id="p1"),
    )


def test_minimal_node_configuration_leaves_unsent_parts_none() -> None:
    packet = {
        "control": {
            "action": "SESSION_CONFIGURATION",
            "sessionConfiguration": {"capabilitiesConfiguration": {"audio": True}},
        }
    }
    got = decode_json(packet)
    assert isinstance(got, di.SessionConfigured)
    assert got.capabilities == di.Capabilities(audio=True)
    assert (got.game_session_id, got.user, got.client, got.continuation) == (None, None, None, None)


def test_saved_state_continuation() -> None:
    state = base64.b64encode(b"opaque-state").decode()
    packet = {
        "control": {
            "action": "SESSION_CONFIGURATION",
            "sessionConfiguration": {
                "continuation": {
                    "continuationType": "CONTINUATION_TYPE_EXTERNALLY_SAVED_STATE",
                    "externallySavedState": state,
                }
            },
        }
    }
    got = decode_json(packet)
    assert isinstance(got, di.SessionConfigured)
    assert got.continuation == di.SavedStateContinuation(b"opaque-state")


def test_user_level_capability_names_are_understood() -> None:
    # changeScene may send the SDK's user-facing names (spec §3.4)
    packet = {
        "sessionControl": {
            "capabilitiesConfiguration": {
                "audio": True,
                "phonemes": True,
                "silence": True,
                "unknownThing": 1,
            }
        }
    }
    got = decode_json(packet)
    assert got == di.SessionConfigured(
        capabilities=di.Capabilities(audio=True, phoneme_info=True, silence_events=True)
    )


def test_load_scene() -> None:
    packet = {
        "packetId": {"packetId": "p2", "interactionId": "i0"},
        "timestamp": "2025-01-01T00:00:00.000Z",
        "routing": PLAYER_TO_WORLD,
        "mutation": {"loadScene": {"name": "workspaces/test-ws/characters/alice"}},
    }
    assert decode_json(packet) == di.SceneRequested(
        "workspaces/test-ws/characters/alice", ids=di.InputIds(packet_id="p2", interaction_id="i0")
    )


def test_conversation_update() -> None:
    packet = {
        "packetId": {"packetId": "p3", "conversationId": "c1"},
        "timestamp": "2025-01-01T00:00:00.000Z",
        "control": {
            "action": "CONVERSATION_UPDATE",
            "conversationUpdate": {
                "participants": [{"name": "agent-1", "type": "AGENT"}, {"type": "PLAYER"}]
            },
        },
    }
    assert decode_json(packet) == di.ConversationUpdated(
        (di.Participant(di.ActorKind.AGENT, "agent-1"), di.Participant(di.ActorKind.PLAYER)),
        di.InputIds(packet_id="p3", conversation_id="c1"),
    )


IDS = {
    "packetId": "p4",
    "utteranceId": "u4",
    "interactionId": "i4",
    "correlationId": "r4",
    "conversationId": "c1",
}
INPUT_IDS = di.InputIds("p4", "u4", "i4", "r4", "c1")


def test_typed_text() -> None:
    packet = {
        "packetId": IDS,
        "routing": {"source": {"type": "PLAYER"}},
        "text": {"sourceType": "TYPED_IN", "text": "Hello", "final": True},
    }
    assert decode_json(packet) == di.TextSent("Hello", "", INPUT_IDS)


def test_trigger_addressed_to_an_agent() -> None:
    packet = {
        "packetId": IDS,
        "routing": {"source": {"type": "PLAYER"}, "target": {"type": "AGENT", "name": "agent-1"}},
        "custom": {"name": "greet", "type": "TRIGGER", "parameters": [{"name": "k", "value": "v"}]},
    }
    assert decode_json(packet) == di.TriggerSent("greet", (("k", "v"),), "agent-1", INPUT_IDS)


def test_targets_list_is_read_when_target_has_no_type() -> None:
    packet = {
        "routing": {
            "source": {"type": "PLAYER"},
            "targets": [{"type": "AGENT", "name": "agent-2"}],
        },
        "custom": {"name": "t"},
    }
    got = decode_json(packet)
    assert isinstance(got, di.TriggerSent)
    assert got.target_agent_id == "agent-2"


def test_narrated_action() -> None:
    packet = {"packetId": IDS, "action": {"narratedAction": {"content": "waves"}}}
    assert decode_json(packet) == di.NarratedActionSent("waves", "", INPUT_IDS)


@pytest.mark.parametrize(
    "packet",
    [
        {
            "packetId": {"packetId": "p5", "correlationId": "r5"},
            "mutation": {"cancelResponses": {"interactionId": "i4", "utteranceId": ["u1", "u2"]}},
        },
        {
            "packetId": {"packetId": "p5", "correlationId": "r5"},
            "cancelResponses": {"interactionId": "i4", "utteranceId": ["u1", "u2"]},
        },
    ],
)
def test_cancel_responses(packet: dict[str, Any]) -> None:
    assert decode_json(packet) == di.ResponsesCancelled(
        "i4", ("u1", "u2"), di.InputIds(packet_id="p5", correlation_id="r5")
    )


def test_microphone_session() -> None:
    start = {
        "packetId": {"packetId": "p6", "conversationId": "c1"},
        "control": {
            "action": "AUDIO_SESSION_START",
            "audioSessionStart": {
                "mode": "EXPECT_AUDIO_END",
                "understandingMode": "SPEECH_RECOGNITION_ONLY",
            },
        },
    }
    got = decode_json(start)
    assert got == di.AudioSessionStarted(
        True, True, di.InputIds(packet_id="p6", conversation_id="c1")
    )
    open_mic = decode_json(
        {"control": {"action": "AUDIO_SESSION_START", "audioSessionStart": {"mode": "OPEN_MIC"}}}
    )
    assert open_mic == di.AudioSessionStarted(False, False)
    pcm = b"\x01\x00" * 10
    audio = {
        "packetId": {"packetId": "p7", "conversationId": "c1"},
        "dataChunk": {"chunk": base64.b64encode(pcm).decode(), "type": "AUDIO"},
    }
    assert decode_json(audio) == di.AudioReceived(
        pcm, di.InputIds(packet_id="p7", conversation_id="c1")
    )
    assert decode_json({"control": {"action": "AUDIO_SESSION_END"}}) == di.AudioSessionEnded()


def test_mute_and_unmute() -> None:
    assert decode_json({"control": {"action": "TTS_PLAYBACK_MUTE"}}) == di.PlaybackMuted(True)
    assert decode_json({"control": {"action": "TTS_PLAYBACK_UNMUTE"}}) == di.PlaybackMuted(False)


def test_pong_matches_the_spec() -> None:
    packet = {
        "packetId": {"packetId": "p9"},
        "routing": {"source": {"type": "PLAYER"}},
        "latencyReport": {
            "pingPong": {
                "pingPacketId": {"packetId": "s7"},
                "pingTimestamp": "2025-01-01T00:00:00.123Z",
                "type": "PONG",
            }
        },
    }
    assert decode_json(packet) == di.PongReceived(
        "s7", datetime(2025, 1, 1, 0, 0, 0, 123000, tzinfo=UTC), di.InputIds(packet_id="p9")
    )


def test_perceived_latency_matches_the_spec() -> None:
    packet = {
        "packetId": {"packetId": "p10", "interactionId": "i4"},
        "latencyReport": {
            "perceivedLatency": {"latency": "0.007000000s", "precision": "ESTIMATED"}
        },
    }
    assert decode_json(packet) == di.LatencyReported(
        0.007, "ESTIMATED", di.InputIds(packet_id="p10", interaction_id="i4")
    )


def test_scene_characters_and_history() -> None:
    load = {
        "routing": PLAYER_TO_WORLD,
        "mutation": {"loadCharacters": {"name": [{"name": "workspaces/W/characters/bob"}]}},
    }
    assert decode_json(load) == di.CharactersAdded(("workspaces/W/characters/bob",))
    unload = {"mutation": {"unloadCharacters": {"agents": [{"agentId": "agent-2"}]}}}
    assert decode_json(unload) == di.CharactersRemoved(("agent-2",))
    history = {"routing": PLAYER_TO_WORLD, "sessionControl": {"sessionHistoryRequest": {}}}
    assert decode_json(history) == di.SessionHistoryRequested()


@pytest.mark.parametrize(
    ("packet", "what"),
    [
        ({"packetId": {"packetId": "p"}, "routing": PLAYER_TO_WORLD}, "empty packet"),
        (
            {"mutation": {"regenerateResponse": {"interactionId": "i"}}},
            "mutation regenerate_response",
        ),
        ({"mutation": {}}, "mutation without payload"),
        ({"control": {"action": "TTS_PLAYBACK_START"}}, "control TTS_PLAYBACK_START"),
        (
            {"entitiesItemsOperation": {"removeItems": {"itemIds": ["x"]}}},
            "entities_items_operation",
        ),
        ({"latencyReport": {"pingPong": {"type": "PING"}}}, "latency report ping_pong"),
        ({"dataChunk": {"type": "SILENCE", "durationMs": "5"}}, "data_chunk"),
        ({"sessionControl": {}}, "session control without payload"),
    ],
)
def test_packets_without_work_for_the_engine_are_ignored(packet: dict[str, Any], what: str) -> None:
    got = decode_json(packet)
    assert isinstance(got, di.Ignored)
    assert got.what == what


def test_unknown_fields_and_enum_values_are_dropped() -> None:
    packet = {
        "futureField": {"x": 1},
        "text": {"text": "hi", "sourceType": "SOMETHING_NEW", "extra": True},
    }
    assert decode_json(packet) == di.TextSent("hi")


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '"text"',
        json.dumps({"text": {"text": 5}}),
        json.dumps({"text": {}, "custom": {}}),
        b"\xff\xfe",
    ],
)
def test_malformed_frames_are_invalid_argument(frame: str | bytes) -> None:
    with pytest.raises(InvalidArgument):
        parse_json(frame)


def test_decoding_does_not_change_the_callers_dict() -> None:
    packet = {"sessionControl": {"capabilitiesConfiguration": {"phonemes": True}}}
    decode_json(packet)
    assert packet == {"sessionControl": {"capabilitiesConfiguration": {"phonemes": True}}}


def test_grpc_binary_packets_decode_the_same() -> None:
    message = json_format.ParseDict(SESSION_CONFIGURATION, pb.InworldPacket())
    assert decode(pb.InworldPacket.FromString(message.SerializeToString())) == decode_json(
        SESSION_CONFIGURATION
    )
