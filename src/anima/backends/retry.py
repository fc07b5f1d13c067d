"""What the LLM and TTS bases share: retrying a stream before its first chunk, a deadline on
each chunk, and telling the metrics observers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
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


async def paced(
    chunks: AsyncIterator[T], timeout_s: float, silence: Callable[[], str]
) -> AsyncGenerator[T, None]:
    """Yield ``chunks``; a chunk that takes longer than ``timeout_s`` ends the stream with a
    retryable ``BackendError`` saying ``silence()``."""
    while True:
        try:
            async with asyncio.timeout(timeout_s):
                item = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise BackendError(silence(), retryable=True) from exc
        yield item


def notify(observers: Sequence[Callable[[T], None]], m: T, what: str, log: logging.Logger) -> None:
    """Give ``m`` to every observer; an observer that fails is logged, never raised."""
    for observer in observers:
        try:
            observer(m)
        except Exception:  # an observer must never break a turn
            log.exception("%s metrics observer failed", what)
