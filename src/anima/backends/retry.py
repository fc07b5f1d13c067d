"""Retrying a backend's stream before its first chunk: shared by the LLM and TTS bases."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Protocol, TypeVar

from anima.errors import BackendError

T = TypeVar("T")


class Attempts(Protocol):
    chunks: int  # what reached the caller: after the first chunk nothing is retried
    attempts: int


async def retrying(
    attempt: Callable[[], AsyncGenerator[T, None]],
    m: Attempts,
    *,
    retries: int,
    backoff_s: float,
    what: str,
    log: logging.Logger,
) -> AsyncGenerator[T, None]:
    """Yield what ``attempt()`` yields; a retryable ``BackendError`` before the first chunk
    starts another attempt (up to ``retries`` more, waiting ``backoff_s`` times the count)."""
    while True:
        try:
            async with aclosing(attempt()) as chunks:
                async for chunk in chunks:
                    yield chunk
            return
        except BackendError as exc:
            if m.chunks or not exc.retryable or m.attempts > retries:
                raise
            log.warning("%s failed (%s); retrying", what, exc.message)
            m.attempts += 1
            await asyncio.sleep(backoff_s * m.attempts)
