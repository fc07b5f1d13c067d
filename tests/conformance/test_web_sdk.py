"""The unmodified @inworld/web-core 2.10.0 against a real ``anima serve`` (spec §6.2).

One server for the module (subprocess, temp data dir, the real embedded model), driven by
harness/web_client.mjs over WebSocket and REST. What the model says is not asserted, only the
protocol as the SDK saw it (ids, packet kinds, order, errors) and what the server stored.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from anima.domain.feedback import Feedback
from tests.conformance.anima_server import SCENE, WORKSPACE, AnimaServer
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


def _env(server: AnimaServer, **extra: str) -> dict[str, str]:
    return {
        "ANIMA_HTTP_HOST": f"localhost:{server.http_port}",
        "ANIMA_KEY": server.key,
        "ANIMA_SECRET": server.secret,
        "ANIMA_SCENE": SCENE,
        "ANIMA_TIMEOUT_MS": TIMEOUT_MS,
        **extra,
    }


def _web(server: AnimaServer, scenario: str, **env: str) -> list[dict[str, Any]]:
    out = run_harness("web_client.mjs", scenario, env=_env(server, **env), timeout=240)
    assert out[-1] == {"event": "done"}, out[-3:]
    return out


def _sent(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o["packet"] for o in events(out, "sent")]


def _sessions(out: list[dict[str, Any]]) -> list[str]:
    return [t["sessionId"] for t in events(out, "token")]


def _assert_reply(packets: list[dict[str, Any]], agent_id: str, conversation_id: str) -> None:
    """One interaction's reply as the SDK saw it: texts, INTERACTION_END last, client's ids."""
    types = [p["type"] for p in packets]
    assert types[-1] == "CONTROL", types
    assert packets[-1]["isInteractionEnd"]
    assert types.count("CONTROL") == 1
    assert "TEXT" in types, types
    for p in packets:
        assert p["routing"]["source"] == {"name": agent_id, "isPlayer": False, "isCharacter": True}
        assert p["packetId"]["conversationId"] == conversation_id
        assert p["packetId"]["packetId"]
        assert p["date"]


def _studio(server: AnimaServer, method: str, path: str, **kw: Any) -> dict[str, Any]:
    basic = base64.b64encode(f"{server.key}:{server.secret}".encode()).decode()
    r = httpx.request(
        method,
        f"http://localhost:{server.http_port}{path}",
        headers={"Authorization": f"Basic {basic}"},
        timeout=30,
        **kw,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _deployed(server: AnimaServer, collection: str, body: dict[str, Any]) -> str:
    name = str(
        _studio(server, "POST", f"/studio/v1/workspaces/{WORKSPACE}/{collection}", json=body)[
            "name"
        ]
    )
    op = _studio(server, "POST", f"/studio/v1/{name}:deploy")
    deadline = time.monotonic() + 120
    while not _studio(server, "GET", f"/studio/v1/{op['name']}").get("done"):
        assert time.monotonic() < deadline, "deploy did not finish"
        time.sleep(0.2)
    return name


def test_open_list_characters_and_converse_with_emotions(server: AnimaServer) -> None:
    out = _web(server, "hello", ANIMA_TEXT="Hello! How are you today?")
    (characters,) = events(out, "characters")
    (alice,) = characters["characters"]
    assert alice["resourceName"] == SCENE
    assert alice["displayName"] == "Alice"
    (sent,) = _sent(out)
    reply = packets(out, sent["packetId"]["interactionId"])
    _assert_reply(reply, alice["id"], sent["packetId"]["conversationId"])
    texts = [p for p in reply if p["type"] == "TEXT"]
    emotions = [p for p in reply if p["type"] == "EMOTION"]
    assert emotions  # capability emotions: one per utterance, with the utterance's ids
    assert {p["packetId"]["utteranceId"] for p in emotions} == {
        p["packetId"]["utteranceId"] for p in texts
    }
    assert {p["packetId"]["correlationId"] for p in reply} == {sent["packetId"]["correlationId"]}
    added = [text for h in events(out, "history") for text in h["added"] if text]
    assert "Hello! How are you today?" in added  # the SDK's history saw the exchange

    (session,) = _sessions(out)
    (stored,) = history(server, session)
    assert stored.input_text == "Hello! How are you today?"
    assert list(stored.texts) == [p["text"]["text"] for p in texts]


def test_triggers_and_narrated_actions(server: AnimaServer) -> None:
    out = _web(server, "converse", ANIMA_TRIGGER="greet")
    (alice,) = events(out, "characters")[0]["characters"]
    said, triggered, acted = _sent(out)
    assert [p["type"] for p in (said, triggered, acted)] == ["TEXT", "TRIGGER", "NARRATED_ACTION"]
    cid = said["packetId"]["conversationId"]
    for sent in (said, triggered, acted):
        _assert_reply(packets(out, sent["packetId"]["interactionId"]), alice["id"], cid)
    reply = packets(out, triggered["packetId"]["interactionId"])
    assert [p["text"]["text"] for p in reply if p["type"] == "TEXT"] == [
        "Welcome to the lighthouse, Bob!"
    ]
    assert "greeted" in [p["trigger"]["name"] for p in reply if p["type"] == "TRIGGER"]

    (session,) = _sessions(out)
    stored = history(server, session)
    assert [(i.input_kind, i.trigger, i.input_text) for i in stored] == [
        ("text", "", "Hello"),
        ("trigger", "greet", ""),
        ("action", "", "waves and smiles"),
    ]
    assert stored[1].parameters == (("k", "v"),)
    narrated = [p for p in events(out, "packet") if p["packet"]["type"] == "NARRATED_ACTION"]
    stored_narrated = [t for i in stored for t, n in zip(i.texts, i.narrated, strict=True) if n]
    assert [p["packet"]["narratedAction"]["text"] for p in narrated] == stored_narrated


def test_save_state_and_continue_in_a_new_session(server: AnimaServer) -> None:
    out = _web(
        server, "state", ANIMA_TEXT="My name is Bob and I love sailing.", ANIMA_TEXT2="Hi again!"
    )
    (state,) = events(out, "state")
    first, second = _sent(out)
    assert packets(out, second["packetId"]["interactionId"])[-1]["isInteractionEnd"]
    assert state["version"] == {"interactionId": first["packetId"]["interactionId"]}
    assert b"sailing" not in base64.b64decode(state["state"])  # opaque
    created = datetime.fromisoformat(state["creationTime"].replace("Z", "+00:00"))
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)

    old, new = _sessions(out)[:2]
    assert old != new
    earlier, now = history(server, new)
    assert earlier.input_text == "My name is Bob and I love sailing."
    assert earlier.texts == history(server, old)[0].texts
    assert now.input_text == "Hi again!"
    # history.previousState: the SDK asked for the session history and shows the old exchange
    second_open = next(
        i for i, o in enumerate(out) if o["event"] == "token" and o["sessionId"] == new
    )
    restored = next(o for o in out[second_open:] if o["event"] == "history")
    assert restored["added"] == ["My name is Bob and I love sailing.", *earlier.texts]


def test_dialog_continuation(server: AnimaServer) -> None:
    out = _web(server, "dialog", ANIMA_TEXT="What is my name?")
    (session,) = _sessions(out)
    earlier, now = history(server, session)
    assert earlier.input_text == "My name is Zed and I sail a red boat."
    assert earlier.texts == ("Nice to meet you, Zed.",)
    assert now.input_text == "What is my name?"


def test_interrupt_a_reply(server: AnimaServer) -> None:
    out = _web(
        server,
        "interrupt",
        ANIMA_TEXT="Tell me the whole history of your lighthouse, every storm and every ship.",
        ANIMA_TEXT2="Sorry to interrupt. Are you well?",
    )
    interrupted, after = _sent(out)
    (cancelled,) = events(out, "cancelled")
    assert cancelled["interactionId"] == interrupted["packetId"]["interactionId"]
    assert cancelled["packet"]["type"] == "CANCEL_RESPONSE"
    cut = packets(out, interrupted["packetId"]["interactionId"])
    assert cut[-1]["isInteractionEnd"]  # INTERACTION_END also for a cancelled interaction
    assert [p["type"] for p in cut].count("CONTROL") == 1
    (alice,) = events(out, "characters")[0]["characters"]
    _assert_reply(
        packets(out, after["packetId"]["interactionId"]),
        alice["id"],
        after["packetId"]["conversationId"],
    )
    (session,) = _sessions(out)
    stored = history(server, session)
    assert stored[-1].input_text == "Sorry to interrupt. Are you well?"
    assert not stored[-1].cancelled
    assert all(i.cancelled for i in stored[:-1])  # nothing, or only what was said, kept


def test_reconnect_after_the_server_drops_the_socket(server: AnimaServer) -> None:
    env = _env(server, ANIMA_TEXT2="Still there?")
    # the server goes away: the socket is closed under the client
    out = run_harness_across("web_client.mjs", "reconnect", env, server.restart)

    waiting = next(i for i, o in enumerate(out) if o["event"] == "waiting")
    assert any(o["event"] == "disconnect" for o in out[waiting:])
    first, second = _sent(out)
    (alice,) = events(out, "characters")[0]["characters"]
    cid = first["packetId"]["conversationId"]
    assert second["packetId"]["conversationId"] == cid  # the same conversation, reopened
    _assert_reply(packets(out, first["packetId"]["interactionId"]), alice["id"], cid)
    _assert_reply(packets(out, second["packetId"]["interactionId"]), alice["id"], cid)
    (session,) = _sessions(out)  # no new token, no new session: resumed by id
    assert [i.input_text for i in history(server, session)] == ["Hello", "Still there?"]


def test_feedback_like_dislike_and_undo(server: AnimaServer) -> None:
    out = _web(server, "feedback")
    liked, disliked = (f["feedback"] for f in events(out, "feedback"))
    (sent,) = _sent(out)
    (session,) = _sessions(out)
    interaction_id = sent["packetId"]["interactionId"]
    prefix = f"workspaces/{WORKSPACE}/sessions/{session}/interactions/{interaction_id}/groups/"
    assert liked["name"].startswith(prefix)
    assert liked["isLike"] is True
    assert liked["types"] == []
    assert disliked["isLike"] is False
    assert disliked["types"] == ["REPETITION"]
    assert disliked["comment"] == "again?"
    assert events(out, "undone") == [{"event": "undone", "name": liked["name"]}]

    async def stored() -> list[Feedback]:
        async with server.store() as store:
            return await store.feedback.for_session(session, interaction_id)

    (left,) = asyncio.run(stored())  # the like was undone
    assert left.types == ("INTERACTION_DISLIKE_TYPE_REPETITION",)


def test_a_bad_token_is_refused(server: AnimaServer) -> None:
    token = httpx.post(
        f"http://localhost:{server.http_port}/auth/v1/tokens/token:generate",
        json={"resources": [f"workspaces/{WORKSPACE}"]},
        auth=(server.key, server.secret),
        timeout=30,
    ).json()
    forged = {**token, "token": token["token"][:-6] + "AAAAAA"}
    out = _web(server, "error", ANIMA_TOKEN_JSON=json.dumps(forged))
    error = events(out, "error")[0]
    assert error["code"] == 16  # UNAUTHENTICATED
    assert error["details"][0]["errorType"] == "SESSION_TOKEN_INVALID"
    assert events(out, "packet") == []


def test_an_unknown_character_is_not_found(server: AnimaServer) -> None:
    out = _web(server, "error", ANIMA_SCENE=f"workspaces/{WORKSPACE}/characters/nobody")
    error = events(out, "error")[0]
    assert error["code"] == 5  # NOT_FOUND
    assert "nobody" in error["message"]
    assert error["details"][0]["errorType"] == "RESOURCE_NOT_FOUND"


def test_a_scene_with_two_characters(server: AnimaServer) -> None:
    bob = _deployed(
        server,
        "characters",
        {
            "defaultCharacterDescription": {
                "givenName": "Bob",
                "description": "Bob fishes off the pier by the lighthouse and grumbles about gulls.",
            }
        },
    )
    scene = _deployed(
        server,
        "scenes",
        {
            "displayName": "The Cape",
            "description": "A windy cape with a lighthouse and a pier.",
            "characters": [{"character": SCENE}, {"character": bob}],
        },
    )
    out = _web(server, "scene", ANIMA_SCENE=scene)
    (characters,) = events(out, "characters")
    found = {c["displayName"]: c for c in characters["characters"]}
    assert set(found) == {"Alice", "Bob"}
    assert {c["resourceName"] for c in found.values()} == {SCENE, bob}
    to_alice, to_bob = _sent(out)
    _assert_reply(
        packets(out, to_alice["packetId"]["interactionId"]),
        found["Alice"]["id"],
        to_alice["packetId"]["conversationId"],
    )
    _assert_reply(
        packets(out, to_bob["packetId"]["interactionId"]),
        found["Bob"]["id"],
        to_bob["packetId"]["conversationId"],
    )


def test_the_sdk_plays_each_audio_chunk_and_shows_the_text(server: AnimaServer) -> None:
    out = _web(server, "speak", ANIMA_TEXT="Hello! Tell me about the lighthouse.")
    (alice,) = events(out, "characters")[0]["characters"]
    (sent,) = _sent(out)
    reply = packets(out, sent["packetId"]["interactionId"])
    _assert_reply(reply, alice["id"], sent["packetId"]["conversationId"])
    types = [p["type"] for p in reply]
    audio = [p for p in reply if p["type"] == "AUDIO"]
    assert audio, types
    texts = [p for p in reply if p["type"] == "TEXT"]
    for p in audio:  # each after its own text, with the text's utterance id
        (text_at,) = [
            i
            for i, t in enumerate(reply)
            if t is not p
            and t["type"] == "TEXT"
            and t["packetId"]["utteranceId"] == p["packetId"]["utteranceId"]
        ]
        assert text_at < reply.index(p)
        phonemes = p["audio"]["additionalPhonemeInfo"]
        assert phonemes
        assert all(set(ph) == {"phoneme", "startOffsetS"} for ph in phonemes)
    # the audio stub decoded every chunk as a complete WAV file, as a browser must
    played = events(out, "played")
    assert len(played) == len(audio)
    assert all(p["sampleRate"] == 24000 and p["duration"] > 0.2 for p in played)
    # phoneme offsets lie inside the chunk they came with
    for p, decoded in zip(audio, played, strict=True):
        assert (
            max(ph["startOffsetS"] for ph in p["audio"]["additionalPhonemeInfo"])
            < decoded["duration"]
        )
    # the history shows the character's lines once their audio plays
    added = [text for h in events(out, "history") for text in h["added"] if text]
    for t in texts:
        assert t["text"]["text"] in added


def test_the_audio_stub_refuses_raw_pcm(node_sdks: object) -> None:
    out = run_harness("web_client.mjs", "rawpcm")
    assert out[-1] == {"event": "done"}, out[-3:]
    (refused,) = events(out, "refused")
    assert refused["name"] == "EncodingError"
    assert not events(out, "played-raw")


SPOKEN = "Could you tell me the way to the old lighthouse?"


def test_the_player_speaks_through_the_sdks_audio_calls(
    server: AnimaServer, tmp_path: Path
) -> None:
    """sendAudioSessionStart / sendAudio / sendAudioSessionEnd with real speech: the final
    transcript comes back as the player's SPEECH_TO_TEXT text, and the character answers it."""
    out = _web(server, "listen", ANIMA_AUDIO_FILE=str(speech_file(tmp_path, SPOKEN)))
    start, stop = _sent(out)
    assert start["control"]["action"] == "AUDIO_SESSION_START"
    assert start["control"]["audioSessionStart"]["mode"] == "EXPECT_AUDIO_END"
    assert stop["control"]["action"] == "AUDIO_SESSION_END"
    cid = start["packetId"]["conversationId"]
    transcript = heard(out, SPOKEN)
    assert transcript["packetId"]["conversationId"] == cid
    iid = transcript["packetId"]["interactionId"]
    (alice,) = events(out, "characters")[0]["characters"]
    reply = [p for p in packets(out, iid) if not p["routing"]["source"]["isPlayer"]]
    _assert_reply(reply, alice["id"], cid)  # the reply reuses the transcript's interaction
    (session,) = _sessions(out)
    (stored,) = history(server, session)
    assert stored.input_text == transcript["text"]["text"]  # a turn like typed text
    assert list(stored.texts) == [p["text"]["text"] for p in reply if p["type"] == "TEXT"]


def test_speech_recognition_only_returns_the_transcript(
    server: AnimaServer, tmp_path: Path
) -> None:
    out = _web(
        server,
        "listen",
        ANIMA_AUDIO_FILE=str(speech_file(tmp_path, SPOKEN)),
        ANIMA_UNDERSTANDING="SPEECH_RECOGNITION_ONLY",
    )
    start, _ = _sent(out)
    assert start["control"]["audioSessionStart"]["understandingMode"] == "SPEECH_RECOGNITION_ONLY"
    transcript = heard(out, SPOKEN)
    after = packets(out, transcript["packetId"]["interactionId"])
    assert [p["type"] for p in after] == ["TEXT", "CONTROL"]  # no reply, INTERACTION_END
    assert after[-1]["isInteractionEnd"]
    (session,) = _sessions(out)
    assert history(server, session) == []
