"""The espeak-ng voice, for real (Debian's espeak-ng, run in a process of its own)."""

from __future__ import annotations

import ctypes.util
import os
from collections.abc import AsyncIterator

import pytest

from anima.backends.espeak_tts import EspeakTTS
from anima.backends.tts import VoiceSpec
from anima.pipeline.voice import speak

if ctypes.util.find_library("espeak-ng") is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must have espeak-ng (.ci/run installs it)")
    pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)", allow_module_level=True)


@pytest.fixture
async def tts() -> AsyncIterator[EspeakTTS]:
    voice = EspeakTTS()
    yield voice
    await voice.aclose()


async def test_speech_with_phonemes_at_their_positions(tts: EspeakTTS) -> None:
    [chunk] = await speak(tts, "Hello there, traveller.", VoiceSpec(gender="female"))
    assert chunk.sample_rate == 22050
    assert 0.8 < chunk.duration < 3
    symbols = [p.symbol for p in chunk.phonemes]
    assert symbols[:4] == ["h", "ə", "l", "oʊ"]
    assert not any("ˈ" in s for s in symbols)
    starts = [p.start for p in chunk.phonemes]
    assert starts == sorted(starts)
    assert starts[-1] < chunk.duration
    [fast] = await speak(tts, "Hello there, traveller.", VoiceSpec(gender="female", speed=2.0))
    assert fast.duration < 0.7 * chunk.duration
    assert fast.phonemes[-1].start < 0.7 * chunk.phonemes[-1].start


async def test_voices_by_name_and_gender_and_an_unknown_name(tts: EspeakTTS) -> None:
    [male] = await speak(tts, "Good morning.", VoiceSpec(gender="male"))
    [female] = await speak(tts, "Good morning.", VoiceSpec(gender="female"))
    assert male.pcm != female.pcm
    [british] = await speak(tts, "Good morning.", VoiceSpec(name="en-gb"))
    assert british.phonemes != male.phonemes  # another accent: other vowels
    # a hosted platform's base name espeak-ng does not know: the gender's voice speaks
    [other] = await speak(tts, "Good morning.", VoiceSpec(name="Hades", gender="male"))
    assert [p.symbol for p in other.phonemes] == [p.symbol for p in male.phonemes]
    assert other.duration == pytest.approx(male.duration, abs=0.01)
