"""Speech synthesis: the Protocol every TTS backend implements, and the base class that owns the
cross-cutting work (timeouts, retries before the first chunk, metrics, the "produced nothing"
check), as ``LLMBase`` does for language models.

A backend turns a line of text and a ``VoiceSpec`` into a stream of ``SpeechChunk`` values:
16-bit mono PCM at the backend's rate, each with the phonemes that start inside it (offsets in
seconds from the start of that chunk, in the platform's IPA phoneme set: see ``phonemes.py``).
Closing the stream (``aclose()``, or cancelling the task iterating it) stops synthesis.

    async with contextlib.aclosing(tts.synthesize("Hello there.", voice)) as chunks:
        async for chunk in chunks:
            ...

Implementations subclass ``TTSBase`` and write one method, ``_synthesize``. They translate
their vendor's exceptions into ``BackendError`` (with ``retryable``) at the seam.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import ClassVar, Protocol

from anima.backends.retry import notify, paced, retrying
from anima.errors import BackendError

log = logging.getLogger("anima.tts")


@dataclass(frozen=True, slots=True)
class VoiceSpec:
    """What a backend needs to speak as a character (pipeline/voice.py maps the character's
    Voice asset to this). ``name`` is the backend's own voice name ("" = its default)."""

    name: str = ""
    gender: str = ""  # "female" | "male" | "" (a backend with several voices picks by it)
    speed: float = 1.0  # 1 = the voice's own pace; 0.5 .. 2
    pitch: float = 0.0  # semitones up (+) or down (-); -12 .. 12


@dataclass(frozen=True, slots=True)
class Phoneme:
    symbol: str  # IPA, as the platform's lip-sync maps use ("sil" for a pause)
    start: float  # seconds from the start of the chunk


SILENCE = "sil"
_STRESS = frozenset("ˈˌ")
_FOLDED = frozenset('ː "“”()')  # no phoneme of their own: their time goes to the one before
_PAUSES = frozenset(";:,.!?—…")


def timed_phonemes(
    pieces: Sequence[tuple[str, int]], rate: int, rename: Mapping[str, str] | None = None
) -> list[Phoneme]:
    """Phonemes with start offsets from ``(symbol, samples)`` pieces in order, "" for a pad.

    A stress mark starts the phoneme that follows it; pauses (punctuation) and pads become
    ``sil`` (one for a run of them); spaces, length marks and quotes only lengthen what comes
    before them; ``rename`` maps a backend's symbols to the platform's IPA.
    """
    rename = rename or {}
    out: list[Phoneme] = []
    t = 0
    stressed_at: int | None = None
    for symbol, samples in pieces:
        start, t = t, t + samples
        if symbol in _STRESS:
            stressed_at = start if stressed_at is None else stressed_at
            continue
        if symbol in _FOLDED or (not symbol and samples == 0):
            continue
        name = SILENCE if not symbol or symbol in _PAUSES else rename.get(symbol, symbol)
        if stressed_at is not None:
            start, stressed_at = stressed_at, None
        if name == SILENCE and out and out[-1].symbol == SILENCE:
            continue
        out.append(Phoneme(name, start / rate))
    return out


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    """A piece of speech: 16-bit little-endian mono PCM and the phonemes that start in it."""

    pcm: bytes
    sample_rate: int
    phonemes: tuple[Phoneme, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


@dataclass(slots=True)
class SynthesisMetrics:
    backend: str
    started: float  # time.perf_counter() at the start
    chars: int = 0  # of text
    first_chunk_s: float | None = None
    duration_s: float = 0.0  # wall time
    audio_s: float = 0.0  # seconds of speech produced
    chunks: int = 0
    attempts: int = 1
    cancelled: bool = False
    empty: bool = False
    error: str | None = None

    @property
    def real_time_factor(self) -> float | None:
        """Seconds of speech per second of work (higher is faster)."""
        return self.audio_s / self.duration_s if self.duration_s > 0 and self.audio_s else None


class TTS(Protocol):
    """A speech synthesizer: streams speech for a line; closing the stream stops it."""

    name: str
    sample_rate: int

    def synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]: ...

    async def aclose(self) -> None: ...


MetricsObserver = Callable[[SynthesisMetrics], None]


class TTSBase(ABC):
    """Base of the TTS backends: implement ``_synthesize``; ``synthesize`` wraps it.

    - ``timeout_s``: the longest wait for any one chunk; exceeding it is a retryable
      ``BackendError``.
    - ``retries``: how many times a retryable failure is retried, only while nothing was
      yielded yet (a line is never restarted half-way).
    - every synthesis ends with ``SynthesisMetrics`` passed to each observer and kept as
      ``last_metrics``; a line with words that produced no audio is a ``BackendError``.
    """

    name: ClassVar[str] = "tts"
    sample_rate: int = 24000

    def __init__(self, *, timeout_s: float = 20.0, retries: int = 1) -> None:
        self.timeout_s = timeout_s
        self.retries = retries
        self.observers: list[MetricsObserver] = []
        self.last_metrics: SynthesisMetrics | None = None

    @abstractmethod
    def _synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]:
        """Yield the line's speech; raise BackendError."""

    async def aclose(self) -> None:
        """Release the backend's resources. Idempotent."""
        return None

    async def synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]:
        m = SynthesisMetrics(backend=self.name, started=time.perf_counter(), chars=len(text))
        try:
            if not any(c.isalnum() for c in text):
                return  # nothing to say: no audio, and not a failure
            attempts = retrying(
                lambda: self._attempt(text, voice, m),
                m,
                retries=self.retries,
                backoff_s=0.1,
                what=self.name,
                log=log,
            )
            async with aclosing(attempts) as chunks:
                async for chunk in chunks:
                    yield chunk
            if m.audio_s == 0:
                m.empty = True
                raise BackendError(f"the {self.name} voice produced no audio for {text[:60]!r}")
        except BackendError as exc:
            m.error = exc.message
            raise
        except (asyncio.CancelledError, GeneratorExit):
            m.cancelled = True
            raise
        finally:
            m.duration_s = time.perf_counter() - m.started
            self._record(m)

    async def _attempt(
        self, text: str, voice: VoiceSpec, m: SynthesisMetrics
    ) -> AsyncGenerator[SpeechChunk, None]:
        def silence() -> str:
            return f"the {self.name} voice gave no audio for {self.timeout_s:g} s"

        async with aclosing(self._synthesize(text, voice)) as chunks:
            async for chunk in paced(chunks, self.timeout_s, silence):
                if not chunk.pcm:
                    continue
                if m.first_chunk_s is None:
                    m.first_chunk_s = time.perf_counter() - m.started
                m.chunks += 1
                m.audio_s += chunk.duration
                yield chunk

    def _record(self, m: SynthesisMetrics) -> None:
        self.last_metrics = m
        notify(self.observers, m, "TTS", log)
