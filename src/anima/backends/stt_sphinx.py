"""The light speech recognizer: CMU pocketsphinx 5.1.1 with the US English model inside its
wheel (BSD). Weaker than Whisper (word error rate about 0.14 in models.md) but it decodes as
the audio arrives, so it sends partial hypotheses while the player speaks (``streaming``).

Each utterance gets its own decoder (loading the model takes a fraction of a second and
decoders are not shared between threads); decoding runs in worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable
from typing import TYPE_CHECKING, Any

from anima.backends.stt import SAMPLE_RATE, Hypothesis, STTBase
from anima.errors import BackendError

if TYPE_CHECKING:
    from anima.settings import Settings


class SphinxSTT(STTBase):
    name = "sphinx"
    streaming = True

    def __init__(self, *, timeout_s: float = 30.0) -> None:
        super().__init__(timeout_s=timeout_s)
        try:
            import pocketsphinx
        except ModuleNotFoundError as exc:
            raise BackendError(
                "stt_backend=sphinx needs pocketsphinx: pip install pocketsphinx==5.1.1",
                retryable=False,
            ) from exc
        self._module = pocketsphinx

    @classmethod
    def from_settings(cls, settings: Settings) -> SphinxSTT:
        return cls(timeout_s=settings.stt_timeout_seconds)

    def _decoder(self) -> Any:
        decoder = self._module.Decoder(samprate=SAMPLE_RATE, logfn="/dev/null")
        decoder.start_utt()
        return decoder

    async def _stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Hypothesis, None]:
        decoder = await asyncio.to_thread(self._decoder)
        async for chunk in audio:
            text = await asyncio.to_thread(_feed, decoder, chunk)
            if text:
                yield Hypothesis(text, final=False)
        yield Hypothesis(await asyncio.to_thread(_finish, decoder), final=True)


def _feed(decoder: Any, chunk: bytes) -> str:
    decoder.process_raw(chunk, False, False)
    hyp = decoder.hyp()
    return str(hyp.hypstr) if hyp is not None else ""


def _finish(decoder: Any) -> str:
    decoder.end_utt()
    hyp = decoder.hyp()
    return str(hyp.hypstr) if hyp is not None else ""
