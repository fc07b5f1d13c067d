"""A scripted voice for tests of the logic around speech (no model): each word becomes a
tone of ``word_seconds``, its phonemes spread evenly over it. It implements the real Protocol
through ``TTSBase``, latency and failures included; the real voice is tested separately."""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, ClassVar

from anima.backends.tts import Phoneme, SpeechChunk, TTSBase, VoiceSpec
from anima.errors import BackendError

if TYPE_CHECKING:
    from anima.settings import Settings


class ScriptedTTS(TTSBase):
    name: ClassVar[str] = "scripted"
    sample_rate = 16000

    def __init__(
        self,
        *,
        word_seconds: float = 0.1,
        delay_s: float = 0.0,
        fail_times: int = 0,
        timeout_s: float = 5.0,
        retries: int = 1,
    ) -> None:
        super().__init__(timeout_s=timeout_s, retries=retries)
        self.word_seconds = word_seconds
        self.delay_s = delay_s
        self.fail_times = fail_times
        self.spoken: list[tuple[str, VoiceSpec]] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> ScriptedTTS:
        return cls(timeout_s=settings.tts_timeout_seconds)

    async def _synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise BackendError("scripted voice failure", retryable=True)
        self.spoken.append((text, voice))
        words = [w for w in text.split() if any(c.isalnum() for c in w)]
        n = max(1, round(self.word_seconds * self.sample_rate / max(0.5, voice.speed or 1.0)))
        for word in words:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            letters = [c.lower() for c in word if c.isalpha()] or ["sil"]
            pcm = b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / self.sample_rate)))
                for i in range(n)
            )
            step = n / self.sample_rate / len(letters)
            yield SpeechChunk(
                pcm,
                self.sample_rate,
                tuple(Phoneme(c, k * step) for k, c in enumerate(letters)),
            )
