"""The unmodified @inworld/nodejs-sdk 1.17.0 against a real ``anima serve`` (spec §6.1).

One server for the module (subprocess, temp data dir, the real embedded model), driven by
harness/node_client.js. What the model says is not asserted, only the protocol: ids, packet
kinds, order, errors, and what the server stored.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.grpc_helpers import self_signed
from tests.conformance.anima_server import SCENE, AnimaServer
from tests.conformance.conftest import (
    TIMEOUT_MS,
    events,
    heard,
    history,
    packets,
    run_harness,
    run_harness_across,
    speech_file,
)

pytestmark = pytest.mark.slow


def _node(server: AnimaServer, scenario: str, **env: str) -> list[dict[str, Any]]:
    out = run_harness(
        "node_client.js",
        scenario,
        env=server.node_env(ANIMA_TIMEOUT_MS=TIMEOUT_MS, **env),
        timeout=240,
    )
    assert out[-1] == {"event": "done"}, out[-3:]
    return out


def _sent_ids(out: list[dict[str, Any]]) -> list[str]:
    return [o["packet"]["packetId"]["interactionId"] for o in events(out, "sent")]


def _assert_reply(packets: list[dict[str, Any]], agent_id: str) -> None:
    """One interaction's reply as the SDK saw it: texts with emotions, INTERACTION_END last."""
    types = [p["type"] for p in packets]
    assert types[-1] == "CONTROL", types
    assert packets[-1]["isInteractionEnd"]
    assert types.count("CONTROL") == 1
    texts = [p for p in packets if p["type"] == "TEXT"]
    assert texts, types
    assert all(p["text"]["text"].strip() and p["text"]["final"] for p in texts)
    for p in packets:
        assert p["routing"]["source"] == {"name": agent_id, "isPlayer": False, "isCharacter": True}
        assert p["packetId"]["conversationId"]


def test_generate_token_with_key_and_secret(server: AnimaServer) -> None:
    (token,) = events(_node(server, "token"), "token")
    assert token["type"] == "Bearer"
    assert token["sessionId"].startswith("test-ws:")
    expires = datetime.fromisoformat(token["expirationTime"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) > timedelta(minutes=55)  # the SDK refreshes at 5 min


def test_open_and_converse_with_emotions(server: AnimaServer) -> None:
    out = _node(server, "hello", ANIMA_TEXT="Hello! How are you today?")
    (characters,) = events(out, "characters")
    (alice,) = characters["characters"]
    assert alice["resourceName"] == SCENE
    assert alice["displayName"] == "Alice"
    scene = events(out, "packet")[0]["packet"]
    assert scene["type"] == "SCENE_MUTATION_RESPONSE"  # node forwards CURRENT_SCENE_STATUS too

    (interaction_id,) = _sent_ids(out)
    reply = packets(out, interaction_id)
    _assert_reply(reply, alice["id"])
    emotions = [p for p in reply if p["type"] == "EMOTION"]
    assert emotions  # capability emotions: one per utterance, with the utterance's ids
    texts = {p["packetId"]["utteranceId"] for p in reply if p["type"] == "TEXT"}
    assert {p["packetId"]["utteranceId"] for p in emotions} == texts
    correlation = events(out, "sent")[0]["packet"]["packetId"]["correlationId"]
    assert {p["packetId"]["correlationId"] for p in reply} == {correlation}

    (session,) = events(out, "session")
    (stored,) = history(server, session["sessionId"])
    assert stored.input_text == "Hello! How are you today?"
    texts_said = [p["text"]["text"] for p in reply if p["type"] == "TEXT"]
    assert list(stored.texts) == texts_said


def test_triggers_and_narrated_actions(server: AnimaServer) -> None:
    out = _node(server, "converse", ANIMA_TRIGGER="greet")
    (alice,) = events(out, "characters")[0]["characters"]
    said, triggered, acted = _sent_ids(out)
    sent = [o["packet"] for o in events(out, "sent")]
    assert [p["type"] for p in sent] == ["TEXT", "TRIGGER", "NARRATED_ACTION"]

    _assert_reply(packets(out, said), alice["id"])
    # The greet goal: a verbatim line with the player's name, then the goal's trigger.
    reply = packets(out, triggered)
    _assert_reply(reply, alice["id"])
    assert [p["text"]["text"] for p in reply if p["type"] == "TEXT"] == [
        "Welcome to the lighthouse, Bob!"
    ]
    sent_back = [p["trigger"]["name"] for p in reply if p["type"] == "TRIGGER"]
    assert "greeted" in sent_back
    _assert_reply(packets(out, acted), alice["id"])

    (session,) = events(out, "session")
    stored = history(server, session["sessionId"])
    assert [(i.input_kind, i.trigger, i.input_text) for i in stored] == [
        ("text", "", "Hello"),
        ("trigger", "greet", ""),
        ("action", "", "waves and smiles"),
    ]
    assert stored[1].parameters == (("k", "v"),)


def test_get_session_state_and_continue_from_it(server: AnimaServer) -> None:
    out = _node(
        server, "state", ANIMA_TEXT="My name is Bob and I love sailing.", ANIMA_TEXT2="Hi again!"
    )
    (state,) = events(out, "state")
    first, second = _sent_ids(out)
    assert state["version"] == {"interactionId": first}  # the client's id of the last turn
    assert base64.b64decode(state["state"])
    created = datetime.fromisoformat(state["creationTime"].replace("Z", "+00:00"))
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)

    sessions = [s["sessionId"] for s in events(out, "session")]
    assert len(sessions) == 2
    assert sessions[0] != sessions[1]  # a new client, a new session, the old state
    earlier, now = history(server, sessions[1])
    assert earlier.input_text == "My name is Bob and I love sailing."
    assert earlier.texts == history(server, sessions[0])[0].texts
    assert now.input_text == "Hi again!"
    assert [p["type"] for p in packets(out, second)][-1] == "CONTROL"


def test_interruption_with_cancel_responses(server: AnimaServer) -> None:
    out = _node(
        server,
        "interrupt",
        ANIMA_TEXT="Tell me the whole history of your lighthouse, every storm and every ship.",
        ANIMA_TEXT2="Sorry to interrupt. Are you well?",
    )
    interrupted, after = _sent_ids(out)
    (cancelled,) = events(out, "cancelled")
    assert cancelled["interactionId"] == interrupted
    assert cancelled["packet"]["type"] == "CANCEL_RESPONSE"

    cut = packets(out, interrupted)
    assert cut[-1]["isInteractionEnd"]  # INTERACTION_END also for a cancelled interaction
    assert [p["type"] for p in cut].count("CONTROL") == 1
    (alice,) = events(out, "characters")[0]["characters"]
    _assert_reply(packets(out, after), alice["id"])  # the session goes on

    (session,) = events(out, "session")
    stored = history(server, session["sessionId"])
    assert stored[-1].input_text == "Sorry to interrupt. Are you well?"
    assert not stored[-1].cancelled
    # The interrupted turn stored nothing, or only what was said before the cancel.
    assert all(i.cancelled for i in stored[:-1])


def test_reconnect_after_the_server_aborts_the_stream(server: AnimaServer) -> None:
    env = server.node_env(ANIMA_TIMEOUT_MS=TIMEOUT_MS, ANIMA_TEXT2="Still there?")
    # SIGTERM: the open stream ends with UNAVAILABLE, never OK
    out = run_harness_across("node_client.js", "reconnect", env, server.restart)

    waiting = next(i for i, o in enumerate(out) if o["event"] == "waiting")
    after = out[waiting:]
    (error,) = [o for o in after if o["event"] == "error"]
    assert error["code"] == 14  # UNAVAILABLE
    assert "shutting down" in error["message"]
    assert any(o["event"] == "disconnect" for o in after)

    first, second = _sent_ids(out)
    (alice,) = events(out, "characters")[0]["characters"]
    _assert_reply(packets(out, first), alice["id"])
    _assert_reply(packets(out, second), alice["id"])  # same agent id after the restart
    (session,) = events(out, "session")  # the SDK kept its session (and token)
    stored = history(server, session["sessionId"])
    assert [i.input_text for i in stored] == ["Hello", "Still there?"]


def test_feedback_like_and_undo(server: AnimaServer) -> None:
    out = _node(server, "feedback")
    (liked,) = events(out, "feedback")
    (interaction_id,) = _sent_ids(out)
    (session,) = events(out, "session")
    name = liked["feedback"]["name"]
    assert name.startswith(
        f"workspaces/test-ws/sessions/{session['sessionId']}/interactions/{interaction_id}/groups/"
    )
    assert liked["feedback"]["isLike"] is True
    assert events(out, "undone") == [{"event": "undone", "name": name}]

    async def stored() -> object:
        async with server.store() as store:
            return await store.feedback.get("test-ws", name.rsplit("/", 1)[-1])

    assert asyncio.run(stored()) is None  # undone


def test_a_wrong_secret_is_refused(server: AnimaServer) -> None:
    out = _node(server, "error", ANIMA_SECRET=server.secret + "x")
    error = events(out, "error")[0]
    assert error["code"] == 16  # UNAUTHENTICATED
    assert "signature does not match" in error["message"]
    assert events(out, "packet") == []


def test_an_unknown_character_is_not_found(server: AnimaServer) -> None:
    out = _node(server, "error", ANIMA_SCENE="workspaces/test-ws/characters/nobody")
    error = events(out, "error")[0]
    assert error["code"] == 5  # NOT_FOUND
    assert "nobody" in error["message"]
    assert error["details"][0]["errorType"] == "RESOURCE_NOT_FOUND"


def test_tls_with_a_certificate_and_key(
    node_sdks: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("anima-tls")
    anima = AnimaServer.create(directory, tls=self_signed(directory))
    anima.start()
    try:
        out = _node(anima, "hello")
    finally:
        anima.stop()
    (interaction_id,) = _sent_ids(out)
    (alice,) = events(out, "characters")[0]["characters"]
    _assert_reply(packets(out, interaction_id), alice["id"])


def test_audio_packets_carry_phonemes(server: AnimaServer) -> None:
    out = _node(server, "hello", ANIMA_TEXT="Good evening! Is the light on tonight?")
    (interaction_id,) = _sent_ids(out)
    reply = packets(out, interaction_id)
    (alice,) = events(out, "characters")[0]["characters"]
    _assert_reply(reply, alice["id"])
    audio = [p for p in reply if p["type"] == "AUDIO"]
    assert audio, [p["type"] for p in reply]
    texts = {p["packetId"]["utteranceId"] for p in reply if p["type"] == "TEXT"}
    assert {p["packetId"]["utteranceId"] for p in audio} <= texts
    for p in audio:
        assert p["audio"]["chunkHead"].startswith("UklGR")  # base64 of "RIFF": a WAV file
        offsets = [ph["startOffsetS"] for ph in p["audio"]["additionalPhonemeInfo"]]
        assert offsets == sorted(offsets)
        assert len(offsets) > 3
        (text_at,) = [
            i
            for i, t in enumerate(reply)
            if t["type"] == "TEXT" and t["packetId"]["utteranceId"] == p["packetId"]["utteranceId"]
        ]
        assert text_at < reply.index(p)  # text first, then its audio


SPOKEN = "Is the light on tonight? I can see a ship out there."


def test_the_player_speaks_through_the_sdks_audio_calls(
    server: AnimaServer, tmp_path: Path
) -> None:
    """sendAudioSessionStart / sendAudio / sendAudioSessionEnd over gRPC with real speech: the
    final transcript comes back as the player's SPEECH_TO_TEXT text, and the character answers."""
    out = _node(server, "listen", ANIMA_AUDIO_FILE=str(speech_file(tmp_path, SPOKEN)))
    start, stop = (o["packet"] for o in events(out, "sent"))
    assert start["control"]["action"] == "AUDIO_SESSION_START"
    assert start["control"]["audioSessionStart"]["mode"] == "EXPECT_AUDIO_END"
    assert stop["control"]["action"] == "AUDIO_SESSION_END"
    transcript = heard(out, SPOKEN)
    assert transcript["packetId"]["conversationId"] == start["packetId"]["conversationId"]
    iid = transcript["packetId"]["interactionId"]
    (alice,) = events(out, "characters")[0]["characters"]
    reply = [p for p in packets(out, iid) if not p["routing"]["source"]["isPlayer"]]
    _assert_reply(reply, alice["id"])  # the reply reuses the transcript's interaction
    (session,) = events(out, "session")
    (stored,) = history(server, session["sessionId"])
    assert stored.input_text == transcript["text"]["text"]


def test_with_an_open_mic_the_server_finds_the_end_of_the_utterance(
    server: AnimaServer, tmp_path: Path
) -> None:
    """OPEN_MIC: the SDK keeps sending (speech, then silence) and the server's voice detector
    decides the player has finished; the transcript comes before AUDIO_SESSION_END."""
    said = "Do you know where the blacksmith lives?"  # one sentence: a pause would end it
    audio = speech_file(tmp_path, said, then_silent_s=1.4)
    out = _node(server, "listen", ANIMA_AUDIO_FILE=str(audio), ANIMA_MIC_MODE="OPEN_MIC")
    start, stop = (o["packet"] for o in events(out, "sent"))
    assert start["control"]["audioSessionStart"]["mode"] == "OPEN_MIC"
    transcript = heard(out, said)
    lines = [o.get("packet") for o in out]
    assert lines.index(transcript) < lines.index(stop)  # found before the session ended
    (alice,) = events(out, "characters")[0]["characters"]
    reply = packets(out, transcript["packetId"]["interactionId"])
    _assert_reply([p for p in reply if not p["routing"]["source"]["isPlayer"]], alice["id"])
