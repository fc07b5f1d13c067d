"""Speech on the WebSocket face (scripted voice, real store and app): what each capability
lets through, the order of a reply's packets, mute and unmute, and cancellation."""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anima.backends.scripted import ScriptedLLM
from anima.backends.scripted_tts import ScriptedTTS
from anima.settings import Settings
from tests.api.websocket_helpers import Rig, Socket, open_rig, packet

SPEECH = {"audio": True, "emotions": True, "phonemeInfo": True, "multiAgent": True}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    settings = Settings(
        data_dir=tmp_path / "data",
        llm_backend="scripted",
        embed_backend="hashing",
        tts_backend="scripted",
    )
    with open_rig(settings) as r:
        r.use_llm(ScriptedLLM(["Hello there, Bob. The ferry leaves at dawn."]))
        yield r


def tts(rig: Rig) -> ScriptedTTS:
    voice: ScriptedTTS = rig.app.state.anima.speech.tts
    return voice


def start(rig: Rig, sock: Socket, capabilities: dict[str, bool]) -> str:
    alice = rig.character("Alice", defaultCharacterDescription={"pronoun": "PRONOUN_FEMALE"})
    status = sock.handshake(alice, capabilities)
    return sock.conversation(status["control"]["currentSceneStatus"]["agents"][0]["agentId"])


def kinds(reply: list[dict[str, Any]]) -> list[str]:
    out = []
    for p in reply:
        if "dataChunk" in p:
            out.append(p["dataChunk"]["type"])
        elif "control" in p:
            out.append(p["control"]["action"])
        else:
            out.append(next(k for k in ("text", "emotion", "custom", "action") if k in p))
    return out


def audio(reply: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in reply if p.get("dataChunk", {}).get("type") == "AUDIO"]


def test_each_utterance_is_text_then_audio_then_emotion_and_the_end_last(rig: Rig) -> None:
    with rig.connect() as sock:
        cid = start(rig, sock, SPEECH)
        reply = sock.reply(sock.say("hi", cid))
    order = kinds(reply)
    assert order[-1] == "INTERACTION_END"
    utterances = [p["packetId"]["utteranceId"] for p in reply if "text" in p]
    assert len(utterances) == 2
    for u in utterances:
        mine = [kinds([p])[0] for p in reply if p["packetId"].get("utteranceId") == u]
        assert mine[0] == "text"
        assert mine.index("AUDIO") < mine.index("emotion")
    for p in audio(reply):
        data = base64.b64decode(p["dataChunk"]["chunk"])
        with wave.open(io.BytesIO(data)) as w:  # a complete file, decodable on its own
            assert w.getnframes() > 0
            seconds = w.getnframes() / w.getframerate()
        offsets = [
            float(i["startOffset"].rstrip("s")) for i in p["dataChunk"]["additionalPhonemeInfo"]
        ]
        assert offsets
        assert all(0 <= o < seconds for o in offsets)
        assert p["packetId"]["conversationId"] == cid
    assert tts(rig).spoken[0][1].gender == "female"  # the character's pronoun


def test_capabilities_gate_audio_phonemes_and_silence(rig: Rig) -> None:
    with rig.connect() as sock:
        cid = start(rig, sock, {**SPEECH, "phonemeInfo": False, "silenceEvents": True})
        reply = sock.reply(sock.say("hi", cid))
    assert audio(reply)
    assert all("additionalPhonemeInfo" not in p["dataChunk"] for p in audio(reply))
    silences = [p for p in reply if p.get("dataChunk", {}).get("type") == "SILENCE"]
    assert silences
    assert all(int(p["dataChunk"]["durationMs"]) > 0 for p in silences)
    with rig.connect() as sock:
        cid = start(rig, sock, {**SPEECH, "audio": False, "silenceEvents": True})
        spoken_before = len(tts(rig).spoken)
        reply = sock.reply(sock.say("hi", cid))
    assert "text" in kinds(reply)
    assert not [p for p in reply if "dataChunk" in p]
    assert len(tts(rig).spoken) == spoken_before  # nothing synthesized for nobody


def test_no_audio_while_muted_and_audio_again_after_unmute(rig: Rig) -> None:
    with rig.connect() as sock:
        cid = start(rig, sock, SPEECH)
        sock.send(packet({"control": {"action": "TTS_PLAYBACK_MUTE"}}, conversationId=cid))
        muted = sock.reply(sock.say("hi", cid))
        sock.send(packet({"control": {"action": "TTS_PLAYBACK_UNMUTE"}}, conversationId=cid))
        unmuted = sock.reply(sock.say("hi again", cid))
    assert "text" in kinds(muted)
    assert not audio(muted)
    assert audio(unmuted)


def test_no_audio_of_a_cancelled_interaction_is_sent_after_the_cancel(rig: Rig) -> None:
    tts(rig).delay_s = 0.3  # each word takes a while: the cancel lands mid-utterance
    with rig.connect() as sock:
        cid = start(rig, sock, SPEECH)
        iid = sock.say("hi", cid)
        sock.until(lambda f: "text" in f.get("result", {}))
        sock.send(
            packet(
                {
                    "routing": {"source": {"type": "PLAYER"}, "target": {"type": "WORLD"}},
                    "mutation": {"cancelResponses": {"interactionId": iid}},
                }
            )
        )
        rest = sock.reply(iid)
        assert rest[-1]["control"]["action"] == "INTERACTION_END"
        assert not audio(rest)
        tts(rig).delay_s = 0.0
        assert audio(sock.reply(sock.say("again", cid)))  # the session goes on, with speech
