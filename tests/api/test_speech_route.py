"""``:synthesize``: a character's line as one WAV with phoneme timings, and its errors."""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from anima.backends.scripted_tts import ScriptedTTS
from anima.settings import Settings
from tests.api.websocket_helpers import WS, Rig, open_rig


def _rig(tmp_path: Path, tts: str) -> Iterator[Rig]:
    settings = Settings(
        data_dir=tmp_path / "data", llm_backend="scripted", embed_backend="hashing", tts_backend=tts
    )
    with open_rig(settings) as r:
        yield r


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(tmp_path, "scripted")


def test_a_line_comes_back_as_one_wav_with_timings_in_the_characters_voice(rig: Rig) -> None:
    rig.character(
        "Bo",
        defaultCharacterAssets={"voice": {"gender": "VOICE_GENDER_MALE", "speakingRate": 1.5}},
    )
    body = rig.ok(
        "POST",
        f"/v1/workspaces/{WS}/characters/bo:synthesize",
        json={"text": "Ahoy there. The tide is turning."},
    )
    data = base64.b64decode(body["audio"])
    with wave.open(io.BytesIO(data)) as w:
        seconds = w.getnframes() / w.getframerate()
        assert w.getframerate() == body["sampleRate"]
    assert body["duration"] == f"{seconds:.3f}s"
    offsets = [float(p["startOffset"].rstrip("s")) for p in body["additionalPhonemeInfo"]]
    assert offsets == sorted(offsets)
    assert offsets[-1] < seconds
    assert len({round(o, 3) for o in offsets}) > 10
    tts: ScriptedTTS = rig.app.state.anima.speech.tts
    [(text, voice)] = tts.spoken
    assert text == "Ahoy there. The tide is turning."
    assert (voice.gender, voice.speed) == ("male", 1.5)


def test_bad_requests_are_clear_errors(rig: Rig) -> None:
    rig.character("Bo")
    url = f"/v1/workspaces/{WS}/characters/bo:synthesize"
    r = rig.client.post(url, json={"text": " ... "}, headers=rig.auth)
    assert r.status_code == 400
    assert "words" in r.json()["error"]["message"]
    r = rig.client.post(url, json={"text": "x" * 1001}, headers=rig.auth)
    assert r.status_code == 400
    r = rig.client.post(
        f"/v1/workspaces/{WS}/characters/nobody:synthesize", json={"text": "Hi."}, headers=rig.auth
    )
    assert r.status_code == 404
    r = rig.client.post(url, json={"text": "Hi."})
    assert r.status_code == 401


def test_with_speech_off_the_route_says_how_to_turn_it_on(tmp_path: Path) -> None:
    for rig in _rig(tmp_path, "off"):
        rig.character("Bo")
        r = rig.client.post(
            f"/v1/workspaces/{WS}/characters/bo:synthesize", json={"text": "Hi."}, headers=rig.auth
        )
        assert r.status_code == 412
        assert "ANIMA_TTS_BACKEND" in r.json()["error"]["message"]
