"""The micro-batcher: concurrent embed calls share model calls, each caller gets its own rows."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from anima.backends.embed import MicroBatcher, Vectors


class Model:
    """Encodes each text as a row [number in the text, batch number]; the first call waits for
    ``release`` so the calls that come meanwhile queue up; a batch with "boom" fails."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.busy = threading.Event()  # set while the first call runs

    def __call__(self, texts: list[str]) -> Vectors:
        self.batches.append(texts)
        if len(self.batches) == 1:
            self.busy.set()
            self.release.wait(5)
        if any("boom" in t for t in texts):
            raise RuntimeError("the model failed")
        n = len(self.batches)
        return np.array([[float(t.split()[-1]), n] for t in texts], dtype=np.float32)


async def _queued(batcher: MicroBatcher, model: Model, calls: list[list[str]]) -> list[object]:
    """Start one call, queue ``calls`` behind it while the model is busy, then release it."""
    first = asyncio.create_task(batcher.embed(["line 0"]))
    await asyncio.to_thread(model.busy.wait, 5)
    rest = [asyncio.create_task(batcher.embed(texts)) for texts in calls]
    await asyncio.sleep(0.01)
    model.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


async def test_every_caller_gets_its_own_rows_in_order() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=64)
    calls = [[f"line {10 * i + j}" for j in range(i + 1)] for i in range(1, 6)]
    results = await _queued(batcher, model, calls)
    assert model.batches[0] == ["line 0"]
    assert len(model.batches) == 2  # the five queued calls went in one model call
    for texts, rows in zip([["line 0"], *calls], results, strict=True):
        assert isinstance(rows, np.ndarray)
        assert rows[:, 0].tolist() == [float(t.split()[-1]) for t in texts]


async def test_a_batch_is_never_larger_than_max_batch() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=4)
    calls = [[f"line {10 * i + j}" for j in range(2)] for i in range(1, 6)]
    results = await _queued(batcher, model, calls)
    assert all(len(b) <= 4 for b in model.batches[1:])
    assert len(model.batches) == 1 + 3  # 2+2, 2+2, 2
    for texts, rows in zip(calls, results[1:], strict=True):
        assert isinstance(rows, np.ndarray)
        assert rows[:, 0].tolist() == [float(t.split()[-1]) for t in texts]


async def test_a_failed_batch_fails_only_its_callers() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=4)
    calls = [["line 1", "line 2"], ["boom 3"], ["line 4", "line 5"], ["line 6"]]
    results = await _queued(batcher, model, calls)
    # batches: [line 0] | [line 1, line 2, boom 3] fails | [line 4, line 5, line 6]
    assert isinstance(results[0], np.ndarray)
    assert isinstance(results[1], RuntimeError)
    assert isinstance(results[2], RuntimeError)
    for i in (3, 4):
        rows = results[i]
        assert isinstance(rows, np.ndarray)
        assert rows[:, 0].tolist() == [float(t.split()[-1]) for t in calls[i - 1]]
    # and the batcher keeps serving
    more = await batcher.embed(["line 9"])
    assert more[:, 0].tolist() == [9.0]


async def test_a_cancelled_caller_does_not_stop_the_others() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch=64)
    first = asyncio.create_task(batcher.embed(["line 0"]))
    await asyncio.to_thread(model.busy.wait, 5)
    gone = asyncio.create_task(batcher.embed(["line 1"]))
    kept = asyncio.create_task(batcher.embed(["line 2"]))
    await asyncio.sleep(0.01)
    gone.cancel()
    model.release.set()
    assert (await kept)[:, 0].tolist() == [2.0]
    await first
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert model.batches[1] == ["line 2"]
