"""Real speech for the speech recognition tests and benchmark, made offline when they run.

Nothing is recorded or committed: ``speak`` synthesizes a sentence with the ``hibari-tts``
voice (a dev dependency, 24 kHz) and resamples it to what a microphone client sends, 16 kHz
mono 16-bit little-endian PCM. ``with_noise`` mixes in white noise at a signal-to-noise
ratio; ``silence`` and ``noise`` make audio with no speech in it; ``chunks`` cuts audio into
~200 ms packets like the web SDK's recorder.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

RATE = 16_000
CHUNK_MS = 200


@functools.cache
def _voice() -> Any:
    from hibari import Hibari

    return Hibari(threads=1)


def _resample_24k_to_16k(x: np.ndarray) -> np.ndarray:
    """Up by 2, low-pass below 8 kHz (windowed sinc), down by 3."""
    up = np.zeros(len(x) * 2, dtype=np.float64)
    up[::2] = x * 2.0
    n = np.arange(-120, 121)
    cutoff = 7_600 / 48_000
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(len(n))
    return np.convolve(up, h, mode="same")[::3]


def to_pcm(samples: np.ndarray) -> bytes:
    return bytes((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())


def from_pcm(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0


@functools.cache
def speak(text: str, seed: int = 1, speed: float = 1.0) -> bytes:
    """``text`` spoken, as 16 kHz PCM, with no silence added around it."""
    audio = np.asarray(_voice()(text, speed=speed, seed=seed), dtype=np.float64)
    return to_pcm(_resample_24k_to_16k(audio))


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def noise(seconds: float, level: float = 0.05, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return to_pcm(rng.normal(0.0, level, int(seconds * RATE)))


def with_noise(pcm: bytes, snr_db: float, seed: int = 0) -> bytes:
    """``pcm`` with white noise at ``snr_db`` below its own power."""
    x = from_pcm(pcm)
    power = float(np.mean(x**2)) or 1e-9
    rng = np.random.default_rng(seed)
    noisy = x + rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(x))
    return to_pcm(noisy)


def speech_end(pcm: bytes, threshold: float = 0.01) -> float:
    """Seconds from the start of ``pcm`` to the end of its last audible sample."""
    x = np.abs(from_pcm(pcm))
    loud = np.nonzero(x > threshold)[0]
    return float(loud[-1] + 1) / RATE if len(loud) else 0.0


def chunks(pcm: bytes, ms: int = CHUNK_MS) -> list[bytes]:
    size = RATE * 2 * ms // 1000
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    cleaned = "".join(c.lower() if c.isalnum() or c in " '" else " " for c in text)
    return cleaned.replace("'", "").split()


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference word count): WER = errors / words."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)], len(ref)
