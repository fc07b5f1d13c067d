"""A scripted language model: an honest fake of the real Protocol.

It streams replies written in advance, word by word, with configurable latency, and can fail
the way real backends fail (before the first chunk or half-way). Unit tests use it to drive the
pipeline; benchmarks use it to measure the engine's own cost. It records every prompt it saw.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from anima.backends.llm import LLMBase, PromptFormat, Usage
from anima.domain.prompt import Prompt
from anima.errors import BackendError
from anima.settings import Settings

_PIECES = re.compile(r"\S+\s*|\s+")

DEMO_REPLIES = (
    "Well met, {player}! I am {character}. What brings you here?",
    "That is a fine question. Let me think about it for a moment.",
    "I have seen many things in my time. Some of them I would rather forget!",
)


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted reply. ``fail_after``: raise ``error`` after that many chunks."""

    text: str
    fail_after: int | None = None
    error: BackendError | None = None


class ScriptedLLM(LLMBase):
    name = "scripted"

    def __init__(
        self,
        replies: Sequence[str | Reply] = DEMO_REPLIES,
        *,
        first_chunk_delay_s: float = 0.0,
        chunk_delay_s: float = 0.0,
        prompt_format: PromptFormat = "chat",
        timeout_s: float = 60.0,
        retries: int = 1,
    ) -> None:
        super().__init__(timeout_s=timeout_s, retries=retries)
        if not replies:
            raise ValueError("a scripted LLM needs at least one reply")
        self.replies = [r if isinstance(r, Reply) else Reply(r) for r in replies]
        self.first_chunk_delay_s = first_chunk_delay_s
        self.chunk_delay_s = chunk_delay_s
        self.prompt_format = prompt_format
        self.prompts: list[Prompt] = []
        self.chunks_sent = 0  # observable: stops growing when a stream is closed
        self._next = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ScriptedLLM:
        return cls(timeout_s=settings.llm_timeout_seconds)

    async def _stream(self, prompt: Prompt) -> AsyncGenerator[str | Usage, None]:
        self.prompts.append(prompt)
        reply = self.replies[self._next % len(self.replies)]
        self._next += 1
        text = reply.text.replace("{player}", prompt.player_name).replace(
            "{character}", prompt.character_name
        )
        if self.first_chunk_delay_s:
            await asyncio.sleep(self.first_chunk_delay_s)
        pieces = _PIECES.findall(text)
        for i, piece in enumerate(pieces):
            if reply.fail_after is not None and i == reply.fail_after:
                raise reply.error or BackendError("scripted failure", retryable=True)
            if i and self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            self.chunks_sent += 1
            yield piece
        if reply.fail_after is not None and reply.fail_after >= len(pieces):
            raise reply.error or BackendError("scripted failure", retryable=True)
        yield Usage(prompt_tokens=0, completion_tokens=len(pieces))
