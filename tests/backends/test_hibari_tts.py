"""The embedded voice, for real: hibari-tts 0.2.1 and the duration tensor its phoneme timings
come from (``/Cast_32_output_0``). If a new hibari renames or changes that tensor these fail."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from anima.backends.hibari_tts import DURATIONS_TENSOR, SAMPLES_PER_UNIT, HibariTTS
from anima.backends.tts import VoiceSpec
from anima.pipeline.voice import speak
from anima.wire.packets import as_wav

pytestmark = pytest.mark.slow

# the platform's lip-sync phoneme set (IPA, as its viseme maps list them)
PLATFORM_PHONEMES = {
    "sil",
    "a",
    "æ",
    "ɑ",
    "b",
    "d",
    "ð",
    "dʒ",
    "e",
    "ə",
    "ɛ",
    "ɚ",
    "aʊ",
    "aɪ",
    "eɪ",
    "ɝ",
    "f",
    "ɡ",
    "h",
    "i",
    "ɪ",
    "j",
    "k",
    "l",
    "m",
    "n",
    "ŋ",
    "o",
    "ɔ",
    "ɔɪ",
    "oʊ",
    "p",
    "r",
    "ɹ",
    "s",
    "ʃ",
    "t",
    "tʃ",
    "u",
    "ʊ",
    "v",
    "ʌ",
    "w",
    "z",
    "ʒ",
    "θ",
    "ɐ",
    "ᵻ",
    "ɾ",
    "ɜ",
    "ʔ",
    "x",
}


@pytest.fixture(scope="module")
def tts() -> HibariTTS:
    return HibariTTS(seed=1)


def test_the_duration_tensor_covers_the_audio_exactly(tts: HibariTTS) -> None:
    phonemes = tts.phonemize("The ferry leaves at dawn, so pack tonight.")[0]
    ids = [0, *(tts._vocab[c] for c in phonemes if c in tts._vocab), 0]
    outputs = tts._session.run(
        None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([1.0], np.float32)}
    )
    names = [o.name for o in tts._session.get_outputs()]
    durations = outputs[names.index(DURATIONS_TENSOR)]
    frames = outputs[names.index("f0")].shape[-1]
    assert durations.shape == (len(ids),)
    assert durations.dtype == np.int64
    assert (durations >= 0).all()
    assert int(durations.sum()) * SAMPLES_PER_UNIT == frames * 300


async def test_phoneme_timings_lie_inside_the_audio_and_track_its_length(tts: HibariTTS) -> None:
    [chunk] = await speak(tts, "Welcome to the Golden Goose, traveller.", VoiceSpec())
    assert chunk.sample_rate == 24000
    starts = [p.start for p in chunk.phonemes]
    assert starts == sorted(starts)
    assert starts[0] == 0.0
    assert starts[-1] < chunk.duration
    symbols = [p.symbol for p in chunk.phonemes]
    assert set(symbols) <= PLATFORM_PHONEMES, set(symbols) - PLATFORM_PHONEMES
    assert len([s for s in symbols if s != "sil"]) >= 25  # one per sound, not per word
    # the last sound ends where the speech does: the trailing pause is short
    assert chunk.duration - starts[-1] < 0.6
    slow = (await speak(tts, "Welcome to the Golden Goose, traveller.", VoiceSpec(speed=0.5)))[0]
    assert slow.duration > 1.6 * chunk.duration
    assert slow.phonemes[-1].start > 1.6 * chunk.phonemes[-1].start


async def test_every_sentence_is_a_wav_that_decodes_on_its_own(tts: HibariTTS) -> None:
    chunks = await speak(tts, "Hello there. The river is high today!", VoiceSpec(pitch=-4))
    assert len(chunks) == 2
    for chunk in chunks:
        data = as_wav(chunk.pcm, chunk.sample_rate)
        assert data[:4] == b"RIFF"
        with wave.open(io.BytesIO(data)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
            samples = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        assert len(samples) / 24000 == pytest.approx(chunk.duration)
        assert np.abs(samples).max() > 3000  # speech, not silence
