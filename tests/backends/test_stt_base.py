"""STTBase: exactly one final, the deadline after the audio ends, errors, metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Sequence

import pytest

from anima.backends.stt import Hypothesis, STTBase, TranscriptionMetrics
from anima.errors import BackendError


class Script(STTBase):
    """Yields the given hypotheses after reading all the audio (after ``delay_s``)."""

    name = "script"

    def __init__(
        self, out: Sequence[Hypothesis], *, delay_s: float = 0.0, fail: Exception | None = None
    ) -> None:
        super().__init__(timeout_s=0.2)
        self.out = out
        self.delay_s = delay_s
        self.fail = fail
        self.heard = b""

    async def _stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Hypothesis, None]:
        async for chunk in audio:
            self.heard += chunk
        await asyncio.sleep(self.delay_s)
        if self.fail is not None:
            raise self.fail
        for h in self.out:
            yield h


async def _all(stt: STTBase, *chunks: bytes) -> list[Hypothesis]:
    async def audio() -> AsyncGenerator[bytes, None]:
        for c in chunks:
            yield c

    return [h async for h in stt.stream(audio())]


async def test_partials_then_one_final_with_tidy_text() -> None:
    stt = Script(
        [
            Hypothesis("hello", False),
            Hypothesis("hello", False),  # unchanged: not repeated
            Hypothesis(" hello  there", False),
            Hypothesis(" Hello there. ", True),
            Hypothesis("late", False),  # after the final: dropped
            Hypothesis("again", True),
        ]
    )
    seen: list[TranscriptionMetrics] = []
    stt.observers.append(seen.append)
    out = await _all(stt, b"\0\0" * 8000, b"\0\0" * 8000)
    assert out == [
        Hypothesis("hello", False),
        Hypothesis("hello there", False),
        Hypothesis("Hello there.", True),
    ]
    assert stt.heard == b"\0\0" * 16000
    [m] = seen
    assert m.audio_seconds == pytest.approx(1.0)
    assert m.partials == 2
    assert m.final_after_s is not None
    assert not m.empty


async def test_a_stream_without_final_ends_with_the_last_partial_as_final() -> None:
    assert await _all(Script([Hypothesis("maybe", False)]), b"\0\0") == [
        Hypothesis("maybe", False),
        Hypothesis("maybe", True),
    ]
    stt = Script([])
    assert await _all(stt, b"\0\0") == [Hypothesis("", True)]
    assert stt.last_metrics is not None
    assert stt.last_metrics.empty


async def test_transcribe_gives_the_final_text() -> None:
    assert (
        await Script([Hypothesis("a", False), Hypothesis("a b", True)]).transcribe(b"\0\0") == "a b"
    )


async def test_the_deadline_runs_only_after_the_audio_ended() -> None:
    async def slow_audio() -> AsyncGenerator[bytes, None]:
        for _ in range(3):
            await asyncio.sleep(0.15)  # the player speaks for longer than the deadline
            yield b"\0\0"

    stt = Script([Hypothesis("ok", True)])
    assert [h async for h in stt.stream(slow_audio())] == [Hypothesis("ok", True)]
    late = Script([Hypothesis("ok", True)], delay_s=1.0)
    with pytest.raises(BackendError, match=r"no transcript 0\.2 s after the audio ended") as info:
        await _all(late, b"\0\0")
    assert info.value.retryable


async def test_vendor_errors_become_backend_errors() -> None:
    stt = Script([], fail=RuntimeError("kaput"))
    with pytest.raises(BackendError, match="script speech recognizer failed: kaput"):
        await _all(stt, b"\0\0")
    assert stt.last_metrics is not None
    assert stt.last_metrics.error
    own = BackendError("server down", retryable=True)
    with pytest.raises(BackendError) as info:
        await _all(Script([], fail=own), b"\0\0")
    assert info.value is own
