"""Players speak over the WebSocket face: real synthesized speech, the real default recognizer
(faster-whisper, Whisper base) and the real voice detector (Silero). Slow: the model loads once
per test process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from tests.api.speech_helpers import is_transcript, ws_audio, ws_chunk, ws_end, ws_start
from tests.api.websocket_helpers import Rig, Socket, is_control, open_rig
from tests.speech_audio import noise, silence, speak, words

pytestmark = pytest.mark.slow

HELLO = "Hello Alice, could you take me across the river?"
WEATHER = "What is the weather like today?"


@pytest.fixture
def rig(sqlite_settings: Settings) -> Iterator[Rig]:
    # a generous deadline: the tests check what is heard, the benchmark how fast
    settings = sqlite_settings.model_copy(update={"stt_timeout_seconds": 300.0})
    with open_rig(settings) as r:
        r.use_llm(ScriptedLLM(["Of course, climb aboard."]))
        yield r


def _open(rig: Rig, sock: Socket, **caps: bool) -> str:
    alice = rig.character("Alice")
    status = sock.handshake(alice, {"emotions": True, **caps})
    agent = status["control"]["currentSceneStatus"]["agents"][0]["agentId"]
    return sock.conversation(agent)


def _said(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f["result"] for f in frames if is_transcript(f)]


def test_push_to_talk_transcript_starts_the_turn_like_typed_text(rig: Rig) -> None:
    with rig.connect() as sock:
        cid = _open(rig, sock)
        audio = ws_audio(cid, silence(0.3) + speak(HELLO) + silence(0.3))
        sock.send(ws_start(cid))
        for frame in audio:
            sock.send(frame)
        sock.send(ws_end(cid))
        [heard] = _said(sock.until(is_transcript))
        assert heard["routing"]["source"]["type"] == "PLAYER"
        assert heard["packetId"]["conversationId"] == cid
        assert words(heard["text"]["text"]) == words(HELLO)
        iid = heard["packetId"]["interactionId"]
        assert iid
        reply = sock.reply(iid)
    agent_texts = [p["text"]["text"] for p in reply if "text" in p]
    assert agent_texts == ["Of course, climb aboard."]
    assert any("emotion" in p for p in reply)
    assert all(p["packetId"]["conversationId"] == cid for p in reply)
    # stored as the player's words of an ordinary turn
    history = rig.run(rig.store.sessions.history(sock.session_id, limit=5))
    assert [words(i.input_text) for i in history] == [words(HELLO)]
    assert history[0].input_kind == "text"


def test_speech_recognition_only_returns_the_transcript_and_no_reply(rig: Rig) -> None:
    with rig.connect() as sock:
        cid = _open(rig, sock)
        audio = ws_audio(cid, speak(WEATHER) + silence(0.2))
        sock.send(ws_start(cid, transcribe_only=True))
        for frame in audio:
            sock.send(frame)
        sock.send(ws_end(cid))
        frames = sock.until(is_control("INTERACTION_END"))
    [heard] = _said(frames)
    assert words(heard["text"]["text"]) == words(WEATHER)
    assert frames[-1]["result"]["packetId"]["interactionId"] == heard["packetId"]["interactionId"]
    assert not [f for f in frames if f["result"].get("text", {}).get("sourceType") == "GENERATED"]
    assert rig.run(rig.store.sessions.history(sock.session_id, limit=5)) == []


def test_open_mic_finds_each_utterance(rig: Rig) -> None:
    with rig.connect() as sock:
        cid = _open(rig, sock)
        speak(HELLO), speak(WEATHER)  # synthesized before the session starts
        sock.send(ws_start(cid, push_to_talk=False))
        audio = silence(0.5) + speak(HELLO) + silence(1.2) + speak(WEATHER) + silence(1.2)
        for frame in ws_audio(cid, audio):
            sock.send(frame)
        first = _said(sock.until(is_transcript))
        sock.reply(first[0]["packetId"]["interactionId"])
        second = _said(sock.until(is_transcript))
        sock.reply(second[0]["packetId"]["interactionId"])
        sock.send(ws_end(cid))
    assert words(first[0]["text"]["text"]) == words(HELLO)
    assert words(second[0]["text"]["text"]) == words(WEATHER)


def test_silence_and_noise_start_no_turn(rig: Rig) -> None:
    with rig.connect() as sock:
        cid = _open(rig, sock)
        for audio in (b"", silence(1.0), noise(1.5, level=0.1)):
            sock.send(ws_start(cid))
            for frame in ws_audio(cid, audio):
                sock.send(frame)
            sock.send(ws_end(cid))
        sock.send(ws_start(cid, push_to_talk=False))
        for frame in ws_audio(cid, noise(2.0, level=0.2, seed=3)):
            sock.send(frame)
        sock.send(ws_end(cid))
        # typed text afterwards is answered, and nothing came before its reply
        iid = sock.say("hello", cid)
        sock.reply(iid)
    assert not [f for f in sock.received if is_transcript(f) or is_transcript(f, final=False)]
    assert not [f for f in sock.received if is_control("WARNING")(f)]
    history = rig.run(rig.store.sessions.history(sock.session_id, limit=5))
    assert [i.input_text for i in history] == ["hello"]


def test_barge_in_cancels_the_running_reply(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["One. Two. Three. Four. Five. Six."], chunk_delay_s=0.5))
    with rig.connect() as sock:
        cid = _open(rig, sock, interruptions=True)
        first = sock.say("tell me a long story", cid)
        sock.until(lambda f: f.get("result", {}).get("text", {}).get("sourceType") == "GENERATED")
        audio = ws_audio(cid, speak(WEATHER) + silence(1.0))
        sock.send(ws_start(cid, push_to_talk=False))
        for frame in audio:
            sock.send(frame)
        frames = sock.until(is_transcript)
        sock.send(ws_end(cid))
    ended = [
        f
        for f in frames
        if is_control("INTERACTION_END")(f) and f["result"]["packetId"]["interactionId"] == first
    ]
    assert ended, "the reply was not ended before the player's words came back"
    told = [
        f["result"]["text"]["text"]
        for f in frames
        if f["result"].get("packetId", {}).get("interactionId") == first and "text" in f["result"]
    ]
    assert len(told) < 6


def test_bad_audio_is_warned_about_and_the_session_goes_on(rig: Rig) -> None:
    with rig.connect() as sock:
        cid = _open(rig, sock)
        audio = ws_audio(cid, speak(HELLO) + silence(0.2))
        sock.send(ws_chunk(cid, bytes(3200)))  # no audio session
        sock.send(ws_start(cid))
        sock.send(ws_chunk(cid, b"\x01\x02\x03"))  # odd length
        sock.send(ws_chunk(cid, bytes(300_000)))  # oversized
        sock.send(ws_chunk(cid, b"ID3\x00\x00", audio_format="AUDIO_MP3"))  # wrong format
        sock.send(ws_chunk("no-such-conversation", bytes(3200)))
        sock.send(ws_start("no-such-conversation"))
        warnings = [
            sock.until(is_control("WARNING"))[-1]["result"]["control"]["description"]
            for _ in range(6)
        ]
        for frame in audio:
            sock.send(frame)
        sock.send(ws_end(cid))
        [heard] = _said(sock.until(is_transcript))
        sock.reply(heard["packetId"]["interactionId"])
    assert "AUDIO_SESSION_START first" in warnings[0]
    assert "16-bit" in warnings[1]
    assert "larger than" in warnings[2]
    assert "AUDIO_MP3" in warnings[3]
    assert "no-such-conversation" in warnings[4]
    assert "no conversation 'no-such-conversation'" in warnings[5]
    assert words(heard["text"]["text"]) == words(HELLO)


def test_a_second_start_is_audio_session_already_started_and_the_session_resumes(
    rig: Rig,
) -> None:
    token = rig.token()
    with rig.connect(token) as sock:
        cid = _open(rig, sock)
        sock.send(ws_start(cid))
        sock.send(ws_start(cid))
        frames = sock.closed()
    error = frames[-1]["error"]
    assert error["code"] == 9  # FAILED_PRECONDITION
    assert error["details"][0]["errorType"] == "AUDIO_SESSION_ALREADY_STARTED"
    audio = ws_audio(cid, speak(HELLO) + silence(0.2))  # made before the session starts
    with rig.connect(token) as again:  # the same session, no handshake
        again.send(ws_start(cid))
        for frame in audio:
            again.send(frame)
        again.send(ws_end(cid))
        [heard] = _said(again.until(is_transcript))
        again.reply(heard["packetId"]["interactionId"])
    assert words(heard["text"]["text"]) == words(HELLO)
