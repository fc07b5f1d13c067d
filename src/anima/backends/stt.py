"""Speech recognition: the Protocol every STT backend implements, and the base class that owns
the cross-cutting work (the deadline after the audio ends, errors, metrics, exactly one final).

A backend turns a stream of audio chunks (16 kHz mono 16-bit little-endian PCM) into
hypotheses: partial ones (``final=False``) while the audio arrives, when the backend can make
them cheaply (``streaming = True``), then exactly one final one after the audio ends::

    async with contextlib.aclosing(stt.stream(chunks)) as hypotheses:
        async for h in hypotheses:
            ...  # h.text, h.final

A backend that cannot stream (``streaming = False``: Whisper, a remote server) is given the
whole utterance as one chunk by its caller. Implementations subclass ``STTBase`` and write
``_stream``; they translate their vendor's exceptions into ``BackendError`` at the seam.

    backend     module            streaming  notes
    embedded    stt_whisper.py    no         faster-whisper, Whisper base int8 (the default)
    sphinx      stt_sphinx.py     yes        pocketsphinx, its English model (light, weaker)
    openai      stt_openai.py     no         an OpenAI-compatible /audio/transcriptions server
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import ClassVar, Protocol

from anima.errors import AnimaError, BackendError

log = logging.getLogger("anima.stt")

SAMPLE_RATE = 16_000


@dataclass(frozen=True, slots=True)
class Hypothesis:
    text: str
    final: bool


@dataclass(slots=True)
class TranscriptionMetrics:
    backend: str
    started: float  # time.perf_counter() when the stream began
    audio_seconds: float = 0.0
    audio_ended: float | None = None  # perf_counter() when the last chunk was taken
    final_after_s: float | None = None  # from the end of the audio to the final hypothesis
    partials: int = 0
    chars: int = 0
    empty: bool = False
    cancelled: bool = False
    error: str | None = None


class STT(Protocol):
    """Speech to text: audio chunks in, hypotheses out, exactly one final last."""

    name: str
    streaming: bool

    def stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Hypothesis, None]: ...

    async def transcribe(self, pcm: bytes) -> str: ...

    async def warm(self) -> None: ...

    async def aclose(self) -> None: ...


MetricsObserver = Callable[[TranscriptionMetrics], None]


class STTBase(ABC):
    """Base of the STT backends: implement ``_stream``; ``stream`` wraps it.

    - ``timeout_s``: the longest wait for the final hypothesis once the audio has ended
      (the audio itself may take as long as the player speaks); exceeding it is a
      retryable ``BackendError``.
    - a final hypothesis always comes last, exactly once: if ``_stream`` ends without one,
      the last partial (or nothing) becomes final; partials after a final are dropped.
    - any exception that is not an ``AnimaError`` is a ``BackendError`` naming the backend.
    - every transcription ends with a ``TranscriptionMetrics`` passed to each observer and
      kept as ``last_metrics``.
    """

    name: ClassVar[str] = "stt"
    streaming: ClassVar[bool] = False

    def __init__(self, *, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self.observers: list[MetricsObserver] = []
        self.last_metrics: TranscriptionMetrics | None = None

    @abstractmethod
    def _stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Hypothesis, None]:
        """Yield partial hypotheses (optional) and a final one; raise BackendError."""

    async def aclose(self) -> None:
        """Release the backend's resources. Idempotent."""
        return None

    async def warm(self) -> None:
        """Load what the first transcription needs (a model), outside its deadline."""
        return None

    async def transcribe(self, pcm: bytes) -> str:
        """The final text of one whole utterance."""

        async def once() -> AsyncGenerator[bytes, None]:
            yield pcm

        text = ""
        await self.warm()
        async with aclosing(self.stream(once())) as hypotheses:
            async for h in hypotheses:
                if h.final:
                    text = h.text
        return text

    async def stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Hypothesis, None]:
        m = TranscriptionMetrics(backend=self.name, started=time.perf_counter())
        loop = asyncio.get_running_loop()
        last = ""
        final_sent = False
        try:
            async with asyncio.timeout(None) as deadline:

                def ended() -> None:
                    m.audio_ended = time.perf_counter()
                    deadline.reschedule(loop.time() + self.timeout_s)

                async with aclosing(self._stream(_Metered(audio, m, ended))) as hypotheses:
                    async for h in hypotheses:
                        text = " ".join(h.text.split())
                        if final_sent:
                            continue
                        if h.final:
                            final_sent = True
                            yield self._final(text, m)
                        elif text and text != last:
                            last = text
                            m.partials += 1
                            yield Hypothesis(text, final=False)
            if not final_sent:
                final_sent = True
                yield self._final(last, m)
        except TimeoutError as exc:
            m.error = f"no transcript {self.timeout_s:g} s after the audio ended"
            raise BackendError(
                f"the {self.name} speech recognizer gave {m.error}", retryable=True
            ) from exc
        except AnimaError as exc:
            m.error = exc.message
            raise
        except (asyncio.CancelledError, GeneratorExit):
            m.cancelled = True
            raise
        except Exception as exc:
            m.error = repr(exc)
            raise BackendError(
                f"the {self.name} speech recognizer failed: {exc}", retryable=False
            ) from exc
        finally:
            self._record(m)

    def _final(self, text: str, m: TranscriptionMetrics) -> Hypothesis:
        if m.audio_ended is not None:
            m.final_after_s = time.perf_counter() - m.audio_ended
        m.chars = len(text)
        m.empty = not text
        return Hypothesis(text, final=True)

    def _record(self, m: TranscriptionMetrics) -> None:
        self.last_metrics = m
        for observer in self.observers:
            try:
                observer(m)
            except Exception:  # an observer must never break a transcription
                log.exception("STT metrics observer failed")


class _Metered:
    """The audio, counted, with a callback when it ends."""

    def __init__(
        self, audio: AsyncIterable[bytes], m: TranscriptionMetrics, ended: Callable[[], None]
    ) -> None:
        self._audio = audio
        self._m = m
        self._ended = ended

    async def __aiter__(self) -> AsyncGenerator[bytes, None]:
        async for chunk in self._audio:
            self._m.audio_seconds += len(chunk) / (2 * SAMPLE_RATE)
            yield chunk
        self._ended()
