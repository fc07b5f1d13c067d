"""The TTS base class (timeouts, retries, the "produced nothing" check, metrics), the registry,
and the pure parts of the hibari backend (phoneme timings, the added graph output)."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import wave
from collections.abc import AsyncGenerator
from typing import ClassVar

import httpx
import pytest

from anima.backends import hibari_tts
from anima.backends.hibari_tts import HibariTTS, ipa_timings
from anima.backends.openai_tts import OpenAITTS
from anima.backends.scripted_tts import ScriptedTTS
from anima.backends.tts import SpeechChunk, SynthesisMetrics, TTSBase, VoiceSpec
from anima.backends.tts_registry import create_tts
from anima.errors import BackendError, InvalidArgument
from anima.pipeline.voice import speak
from anima.settings import Settings


class Silent(TTSBase):
    name: ClassVar[str] = "silent"

    async def _synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]:
        yield SpeechChunk(b"", 16000)


class Stuck(TTSBase):
    name: ClassVar[str] = "stuck"

    async def _synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]:
        await asyncio.sleep(10)
        yield SpeechChunk(b"\0\0", 16000)


async def test_a_retryable_failure_before_the_first_chunk_is_retried() -> None:
    tts = ScriptedTTS(fail_times=1)
    seen: list[SynthesisMetrics] = []
    tts.observers.append(seen.append)
    chunks = await speak(tts, "Good morning.", VoiceSpec())
    assert len(chunks) == 2
    assert seen[-1].attempts == 2
    assert seen[-1].audio_s == pytest.approx(0.2)
    assert seen[-1].real_time_factor is not None


async def test_failures_past_the_retries_raise() -> None:
    with pytest.raises(BackendError):
        await speak(ScriptedTTS(fail_times=5, retries=1), "Good morning.", VoiceSpec())


async def test_words_that_produce_no_audio_are_an_error_but_punctuation_is_not() -> None:
    with pytest.raises(BackendError, match="no audio"):
        await speak(Silent(), "Hello there.", VoiceSpec())
    assert await speak(Silent(), "...", VoiceSpec()) == []


async def test_a_stuck_voice_times_out() -> None:
    tts = Stuck(timeout_s=0.05, retries=0)
    with pytest.raises(BackendError, match="gave no audio"):
        await speak(tts, "Hello.", VoiceSpec())
    assert tts.last_metrics is not None
    assert tts.last_metrics.error


def test_the_registry_builds_by_name_and_off_means_none(tmp_path: object) -> None:
    assert create_tts(Settings(tts_backend="off")) is None
    assert isinstance(create_tts(Settings(tts_backend="scripted")), ScriptedTTS)
    with pytest.raises(InvalidArgument, match="tts_backend"):
        create_tts(Settings(tts_backend="nonesuch"))


def test_a_wrong_hibari_version_names_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hibari_tts, "installed_version", lambda: "0.3.0")
    with pytest.raises(BackendError, match=r"pip install hibari-tts==0\.2\.1"):
        HibariTTS()
    monkeypatch.setattr(hibari_tts, "installed_version", lambda: None)
    with pytest.raises(BackendError, match=r"pip install hibari-tts==0\.2\.1"):
        HibariTTS()


def test_an_altered_hibari_model_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hibari_tts, "MODEL_SHA256", "0" * 64)
    with pytest.raises(BackendError, match="sha256"):
        HibariTTS()


def test_phoneme_timings_fold_stress_and_spaces_and_mark_pauses() -> None:
    # "həlˈO ðˈɛɹ." with pads: durations in units of 600 samples
    symbols = list("həlˈO ðˈɛɹ.")
    durations = [4, 1, 2, 1, 1, 3, 1, 1, 1, 2, 1, 2, 5]
    timings = ipa_timings(symbols, durations, 24000)
    names = [p.symbol for p in timings]
    assert names == ["sil", "h", "ə", "l", "oʊ", "ð", "ɛ", "ɹ", "sil"]
    starts = {p.symbol: p.start for p in timings}
    unit = 600 / 24000
    assert starts["h"] == pytest.approx(4 * unit)
    assert starts["oʊ"] == pytest.approx(8 * unit)  # from the stress mark before it
    assert timings[-1].start == pytest.approx(18 * unit)  # the final pause
    assert all(a.start <= b.start for a, b in itertools.pairwise(timings))
    with pytest.raises(BackendError, match="pinned"):
        ipa_timings(symbols, durations[:-1], 24000)


def _wav(seconds: float, rate: int = 22050) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\1\0" * int(seconds * rate))
    return buffer.getvalue()


async def test_the_openai_speech_client_asks_for_wav_and_retries_server_errors() -> None:
    answers = [httpx.Response(503, text="busy"), httpx.Response(200, content=_wav(0.5))]
    asked: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content))
        assert request.url.path == "/v1/audio/speech"
        return answers.pop(0)

    tts = OpenAITTS("http://speech.test/v1", transport=httpx.MockTransport(handle))
    [chunk] = await speak(tts, "Hello there.", VoiceSpec(gender="male", speed=1.25))
    await tts.aclose()
    assert (chunk.sample_rate, chunk.duration) == (22050, pytest.approx(0.5))
    assert asked[-1] == {
        "model": "tts-1",
        "input": "Hello there.",
        "voice": "onyx",
        "response_format": "wav",
        "speed": 1.25,
    }


async def test_the_openai_speech_client_reports_what_went_wrong() -> None:
    def bad_request(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="unknown voice")

    tts = OpenAITTS("http://speech.test/v1", transport=httpx.MockTransport(bad_request))
    with pytest.raises(BackendError, match="400: unknown voice") as caught:
        await speak(tts, "Hello.", VoiceSpec(name="nobody"))
    assert not caught.value.retryable

    def not_wav(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"ID3 an mp3")

    tts = OpenAITTS("http://speech.test/v1", transport=httpx.MockTransport(not_wav))
    with pytest.raises(BackendError, match="did not send a WAV"):
        await speak(tts, "Hello.", VoiceSpec())
