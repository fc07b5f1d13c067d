"""Every speech recognizer on the same real (synthesized) speech: the contract of STTBase.

Slow: the Whisper model loads once per test process; pocketsphinx's model is in its wheel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path

import numpy as np
import pytest

from anima.backends.models import cache_dir
from anima.backends.stt import STTBase
from anima.backends.stt_sphinx import SphinxSTT
from anima.backends.stt_whisper import WHISPER_BASE, WhisperSTT, _segments, whisper_base_dir
from anima.errors import BackendError
from tests.speech_audio import chunks, from_pcm, noise, silence, speak, word_errors, words

pytestmark = pytest.mark.slow

SAID = "What is the weather like today?"


def _backends(tmp_path: Path) -> list[STTBase]:
    return [WhisperSTT(tmp_path, timeout_s=300), SphinxSTT(timeout_s=300)]


async def test_each_backend_hears_the_sentence(tmp_path: Path) -> None:
    for stt in _backends(tmp_path):

        async def audio() -> AsyncGenerator[bytes, None]:
            for chunk in chunks(silence(0.2) + speak(SAID) + silence(0.3)):
                yield chunk

        out = [h async for h in stt.stream(audio())]
        assert out[-1].final
        assert [h for h in out if h.final] == [out[-1]]
        errors, count = word_errors(SAID, out[-1].text)
        assert errors / count <= (0.0 if stt.name == "embedded" else 0.35), (stt.name, out[-1])
        if stt.streaming:
            assert any(not h.final for h in out), "a streaming backend sends partials"
        assert await stt.transcribe(silence(1.0)) == ""


async def test_whisper_ignores_noise(tmp_path: Path) -> None:
    stt = WhisperSTT(tmp_path, timeout_s=300)
    assert await stt.transcribe(noise(1.5, level=0.1)) == ""


async def test_the_shortened_window_hears_what_the_full_window_hears(tmp_path: Path) -> None:
    stt = WhisperSTT(tmp_path, timeout_s=300)
    model = await asyncio.to_thread(stt.load)
    # the second sentence came back said again and again with too little padding
    for sentence in (SAID, "Goodbye, and see you again next week."):
        samples = from_pcm(speak(sentence)).astype(np.float32)
        short = stt._decode_short(model, samples)
        assert short is not None
        assert words(short) == words(stt._decode_windows(model, samples)) == words(sentence)


def test_segments_are_cut_at_timestamps() -> None:
    class Tokens:
        timestamp_begin = 100

        def decode(self, tokens: list[int]) -> str:
            return " ".join(str(t) for t in tokens)

    # <|0.00|> 1 2 <|1.00|><|1.00|> 3 <|2.40|><|2.40|> 4 (cut off)
    tokens = [100, 1, 2, 150, 150, 3, 220, 220, 4]
    assert list(_segments(tokens, Tokens())) == [(0.0, "1 2"), (1.0, "3"), (2.4, "4")]
    assert list(_segments([5, 6], Tokens())) == [(0.0, "5 6")]
    assert list(_segments([], Tokens())) == []


def test_the_joined_model_is_verified(tmp_path: Path) -> None:
    path = whisper_base_dir(tmp_path)
    assert path == cache_dir() / "whisper-base"
    assert {p.name for p in path.iterdir()} >= {"model.bin", "config.json", "tokenizer.json"}
    broken = tmp_path / "models"
    damaged = broken / WHISPER_BASE.file_name
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a model")
    # a damaged copy in the data dir is not used: the verified one in the cache is
    assert whisper_base_dir(tmp_path) == path
    with pytest.raises(BackendError, match="is not a CTranslate2 Whisper model"):
        WhisperSTT(tmp_path, model_path=tmp_path).load()
