"""The TTS base class (timeouts, retries, the "produced nothing" check, metrics), the registry,
and the pure parts of the hibari backend (phoneme timings, the added graph output)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator
from typing import ClassVar

import pytest

from anima.backends import hibari_tts
from anima.backends.hibari_tts import HibariTTS, ipa_timings
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
