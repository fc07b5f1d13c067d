"""Language models: the Protocol every backend implements, and the base class that owns the
cross-cutting work (timeouts, retries before the first token, metrics, the "produced nothing"
check).

A backend turns a backend-neutral ``Prompt`` (anima.domain.prompt) into a stream of text
chunks. Stopping on request is closing that stream: ``aclose()`` on the async generator, or
cancelling the task that iterates it. Either stops generation at once.

    async with contextlib.aclosing(llm.stream(prompt)) as chunks:
        async for text in chunks:
            ...

Implementations subclass ``LLMBase`` and write one method, ``_stream``, which yields text
chunks and, optionally, ``Usage`` (the last one counts: a backend may report the prompt's
part as soon as it is read, so a reply cut short still has it). They translate their vendor's exceptions
into ``BackendError`` (with ``retryable``) at the seam, raised ``from`` the original.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol, runtime_checkable

from anima.backends.retry import notify, paced, retrying
from anima.domain.prompt import Prompt
from anima.errors import BackendError

log = logging.getLogger("anima.llm")

PromptFormat = Literal["chat", "completion"]


@dataclass(frozen=True, slots=True)
class Sampling:
    """How tokens are drawn. Each bundled model has values chosen by the dialogue evaluation
    (backends/models.py); ``ANIMA_LLM_TEMPERATURE`` and its siblings override them."""

    temperature: float = 0.7
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1

    def with_overrides(self, **overrides: float | None) -> Sampling:
        """These values, with those of ``overrides`` that are set (not None)."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True, slots=True)
class Usage:
    """What a generation cost, when the backend knows it."""

    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens reused from the previous evaluation
    completion_tokens: int = 0


@dataclass(slots=True)
class GenerationMetrics:
    backend: str
    started: float  # time.perf_counter() at the start
    first_chunk_s: float | None = None
    duration_s: float = 0.0
    chunks: int = 0
    chars: int = 0
    attempts: int = 1
    cancelled: bool = False
    empty: bool = False
    error: str | None = None
    usage: Usage = field(default_factory=Usage)


class LLM(Protocol):
    """A language model: streams text for a prompt; closing the stream stops it."""

    name: str
    prompt_format: PromptFormat

    def stream(self, prompt: Prompt) -> AsyncGenerator[str, None]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class PreparesPrompts(Protocol):
    """A model that can do work for a character version ahead of its first turn (the embedded
    model evaluates and keeps the persona)."""

    async def prepare(self, prompt: Prompt) -> bool: ...

    async def warm(self, prompt: Prompt) -> bool:
        """Do the work of ``prompt``'s opening (everything before its conversation) while the
        model is idle, so a new session's first turn reads only the conversation. False when
        it was skipped (nothing to keep, or the model had turns waiting)."""
        ...


MetricsObserver = Callable[[GenerationMetrics], None]


class LLMBase(ABC):
    """Base of the LLM backends: implement ``_stream``; ``stream`` wraps it.

    - ``timeout_s``: the longest wait for any one chunk (the first included); exceeding it is
      a retryable ``BackendError``.
    - ``retries``: how many times a retryable failure is retried, only while nothing was
      yielded yet (a reply is never restarted half-way).
    - every generation ends with a ``GenerationMetrics`` passed to each observer and kept as
      ``last_metrics``; a generation that produced no text is logged and flagged ``empty``.
    """

    name: ClassVar[str] = "llm"
    prompt_format: PromptFormat = "chat"

    def __init__(self, *, timeout_s: float = 60.0, retries: int = 1) -> None:
        self.timeout_s = timeout_s
        self.retries = retries
        self.observers: list[MetricsObserver] = []
        self.last_metrics: GenerationMetrics | None = None

    @abstractmethod
    def _stream(self, prompt: Prompt) -> AsyncGenerator[str | Usage, None]:
        """Yield the reply's text chunks (and optionally ``Usage``); raise BackendError."""

    async def aclose(self) -> None:
        """Release the backend's resources. Idempotent."""
        return None

    async def stream(self, prompt: Prompt) -> AsyncGenerator[str, None]:
        m = GenerationMetrics(backend=self.name, started=time.perf_counter())
        try:
            attempts = retrying(
                lambda: self._attempt(prompt, m),
                m,
                retries=self.retries,
                backoff_s=0.2,
                what=self.name,
                log=log,
            )
            async with aclosing(attempts) as chunks:
                async for text in chunks:
                    yield text
        except BackendError as exc:
            m.error = exc.message
            raise
        except (asyncio.CancelledError, GeneratorExit):
            m.cancelled = True
            raise
        finally:
            m.duration_s = time.perf_counter() - m.started
            m.empty = m.chars == 0 and not m.cancelled and m.error is None
            if m.empty:
                log.warning("%s produced no text for a prompt", self.name)
            self._record(m)

    async def _attempt(self, prompt: Prompt, m: GenerationMetrics) -> AsyncGenerator[str, None]:
        def silence() -> str:
            return f"the {self.name} language model gave no output for {self.timeout_s:g} s"

        async with aclosing(self._stream(prompt)) as chunks:
            async for item in paced(chunks, self.timeout_s, silence):
                if isinstance(item, Usage):
                    m.usage = item
                    continue
                if not item:
                    continue
                if m.first_chunk_s is None:
                    m.first_chunk_s = time.perf_counter() - m.started
                m.chunks += 1
                m.chars += len(item)
                yield item

    def _record(self, m: GenerationMetrics) -> None:
        self.last_metrics = m
        notify(self.observers, m, "LLM", log)
