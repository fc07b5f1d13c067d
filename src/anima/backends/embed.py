"""Sentence embeddings: the Protocol every embedder implements.

Implementations (MiniLM int8 ONNX, a hashing fake for unit tests) live beside this module and
are chosen by name from ``Settings.embed_backend``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape (len(texts), dim).

    Deterministic: the same text always gives the same vector. Cosine similarity is the
    dot product of two rows.
    """

    dim: int

    async def embed(self, texts: Sequence[str]) -> Vectors: ...


@dataclass(slots=True)
class _Request:
    texts: list[str]
    future: asyncio.Future[Vectors]


class MicroBatcher:
    """Joins the texts of concurrent ``embed`` calls into one model call.

    A call that finds the model idle runs at once, alone; calls that arrive while it runs wait
    and then go together, up to ``max_batch`` texts (a model embeds a batch of 32 sentences
    in far less than 32 times one). Each caller gets its own rows, in its order; when a batch
    fails, only its callers get the error. ``run`` is blocking and runs in a worker thread.
    """

    def __init__(self, run: Callable[[list[str]], Vectors], max_batch: int = 64) -> None:
        self._run = run
        self.max_batch = max_batch
        self._queue: list[_Request] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # model calls so far, for observing the batching

    async def embed(self, texts: Sequence[str]) -> Vectors:
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(list(texts), future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="anima-embed-batcher")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch = [self._queue.pop(0)]
            size = len(batch[0].texts)
            while self._queue and size + len(self._queue[0].texts) <= self.max_batch:
                size += len(self._queue[0].texts)
                batch.append(self._queue.pop(0))
            waiting = [r for r in batch if not r.future.done()]  # cancelled callers drop out
            if not waiting:
                continue
            texts = [t for r in waiting for t in r.texts]
            self.batches += 1
            try:
                vectors = await asyncio.to_thread(self._run, texts)
            except Exception as exc:
                for r in waiting:
                    if not r.future.done():
                        r.future.set_exception(exc)
                continue
            start = 0
            for r in waiting:
                rows = vectors[start : start + len(r.texts)]
                start += len(r.texts)
                if not r.future.done():
                    r.future.set_result(rows)
