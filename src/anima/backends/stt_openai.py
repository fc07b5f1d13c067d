"""Speech recognition on an OpenAI-compatible server: ``POST {base}/audio/transcriptions``
(OpenAI's Whisper, or a GPU server of your own that speaks the same API, e.g. speaches,
LocalAI or vLLM).

The utterance goes up whole as a WAV file (16 kHz mono 16-bit PCM, exactly what the player
sent) in a multipart form with ``model``, ``response_format: json`` and the spoken language;
the answer's ``text`` is the final hypothesis. The API has no partial hypotheses
(``streaming = False``): the caller hands over the utterance once it has ended.

Errors are translated at the seam into ``BackendError``: an unreachable server, a timeout,
429 and 5xx answers are retryable; a refused key (401/403), any other 4xx, and an answer that
is not JSON with a ``text`` string are not. The deadline after the audio ended is the base
class's (``stt_timeout_seconds``).
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncGenerator, AsyncIterable
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from anima.backends.stt import SAMPLE_RATE, Hypothesis, STTBase
from anima.errors import BackendError

if TYPE_CHECKING:
    from anima.settings import Settings


def wav_of(pcm: bytes) -> bytes:
    """16 kHz mono 16-bit little-endian PCM as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return buffer.getvalue()


class OpenAISTT(STTBase):
    name: ClassVar[str] = "openai"
    streaming: ClassVar[bool] = False

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "whisper-1",
        api_key: str = "",
        language: str | None = "en",
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self.language = language or None
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAISTT:
        return cls(
            settings.stt_openai_base_url,
            model=settings.stt_openai_model,
            api_key=settings.stt_openai_api_key,
            language=settings.stt_language,
            timeout_s=settings.stt_timeout_seconds,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Hypothesis, None]:
        pcm = bytearray()
        async for chunk in audio:
            pcm += chunk
        if len(pcm) < 2:
            yield Hypothesis("", final=True)
            return
        yield Hypothesis(await self._post(wav_of(bytes(pcm))), final=True)

    async def _post(self, wav: bytes) -> str:
        form = {"model": self.model, "response_format": "json"}
        if self.language:
            form["language"] = self.language
        where = self._client.base_url
        try:
            r = await self._client.post(
                "/audio/transcriptions",
                data=form,
                files={"file": ("speech.wav", wav, "audio/wav")},
            )
        except httpx.TimeoutException as exc:
            raise BackendError(
                f"the speech recognition server at {where} timed out", retryable=True
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendError(
                f"the speech recognition server at {where} is unreachable: {exc}", retryable=True
            ) from exc
        if r.status_code in (401, 403):
            raise BackendError(
                f"the speech recognition server at {where} refused the API key "
                f"({r.status_code}; set ANIMA_STT_OPENAI_API_KEY): {r.text[:200]}",
                retryable=False,
            )
        if r.status_code != 200:
            raise BackendError(
                f"the speech recognition server at {where} answered {r.status_code}: "
                f"{r.text[:200]}",
                retryable=r.status_code == 429 or r.status_code >= 500,
            )
        try:
            body: Any = r.json()
        except ValueError as exc:
            raise BackendError(
                f"the speech recognition server at {where} did not answer JSON: {r.text[:200]!r}",
                retryable=False,
            ) from exc
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise BackendError(
                f"the speech recognition server at {where} answered JSON without a 'text' "
                f"string: {r.text[:200]!r}",
                retryable=False,
            )
        return text
