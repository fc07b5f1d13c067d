"""Speech from an OpenAI-compatible server: ``POST {base}/audio/speech`` (OpenAI, or a GPU
speech server of your own that speaks the same API, e.g. Kokoro-FastAPI or openedai-speech).

The server is asked for WAV (``response_format: "wav"``); the answer is decoded to PCM and
its rate read from the header. That API gives no timings, so chunks from this backend carry no
phonemes (lip-sync needs the embedded voice, espeak-ng or piper). Voices: the character's
``baseName`` when set, else ``ANIMA_TTS_OPENAI_VOICE_FEMALE`` / ``..._MALE`` by gender
(defaults ``nova`` / ``onyx``), else ``alloy``. HTTP errors are translated at the seam:
429 and 5xx are retryable, the rest are not.
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, ClassVar

import httpx

from anima.backends.tts import SpeechChunk, TTSBase, VoiceSpec
from anima.errors import BackendError

if TYPE_CHECKING:
    from anima.settings import Settings

VOICE_BY_GENDER = {"female": "nova", "male": "onyx", "": "alloy"}


class OpenAITTS(TTSBase):
    name: ClassVar[str] = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "tts-1",
        api_key: str = "",
        timeout_s: float = 20.0,
        retries: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, retries=retries)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAITTS:
        return cls(
            settings.tts_openai_base_url,
            model=settings.tts_openai_model,
            api_key=settings.tts_openai_api_key,
            timeout_s=settings.tts_timeout_seconds,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]:
        body = {
            "model": self.model,
            "input": text,
            "voice": voice.name or VOICE_BY_GENDER.get(voice.gender, "alloy"),
            "response_format": "wav",
            "speed": voice.speed,
        }
        try:
            r = await self._client.post("/audio/speech", json=body)
        except httpx.HTTPError as exc:
            raise BackendError(
                f"the speech server at {self._client.base_url} is unreachable: {exc}",
                retryable=True,
            ) from exc
        if r.status_code != 200:
            raise BackendError(
                f"the speech server answered {r.status_code}: {r.text[:200]}",
                retryable=r.status_code == 429 or r.status_code >= 500,
            )
        try:
            with wave.open(io.BytesIO(r.content)) as w:
                if w.getsampwidth() != 2 or w.getnchannels() != 1:
                    raise BackendError(
                        "the speech server sent WAV that is not 16-bit mono", retryable=False
                    )
                rate, pcm = w.getframerate(), w.readframes(w.getnframes())
        except (wave.Error, EOFError) as exc:
            raise BackendError(
                f"the speech server did not send a WAV file ({exc})", retryable=False
            ) from exc
        yield SpeechChunk(pcm, rate)
