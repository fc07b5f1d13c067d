"""Hearing's logic with honest fakes: a scripted recognizer and a loudness voice detector.

The real recognizer and detector run in tests/api/test_speech_*.py; here the rules: one
utterance per push-to-talk, several per open mic, no turn without speech, the transcript-only
mode, barge-in on the onset of speech, protocol errors and notices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from anima.backends.stt import Hypothesis, STTBase
from anima.domain import inputs as di
from anima.domain.audio_session import AudioLimits, AudioSessionAlreadyStarted, AudioSessionExpired
from anima.pipeline.hearing import Ears, Heard, Hearing

RATE = 16_000


class Loudness:
    """Speech is any 30 ms frame louder than a threshold (a fake that is right for tones)."""

    frame_samples = 480

    def is_speech(self, frame: bytes) -> bool:
        return bool(np.abs(np.frombuffer(frame, dtype="<i2")).max() > 1000)


class LoudnessDetectors:
    def new(self) -> Loudness:
        return Loudness()


class Counting(STTBase):
    """'N samples' for N samples heard; with ``streaming`` a partial per chunk."""

    name = "counting"

    def __init__(self, streaming: bool = False, delay_s: float = 0.0) -> None:
        super().__init__(timeout_s=5)
        self.streaming = streaming  # type: ignore[misc]
        self.delay_s = delay_s
        self.calls = 0

    async def _stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Hypothesis, None]:
        self.calls += 1
        n = 0
        async for chunk in audio:
            n += len(chunk) // 2
            if self.streaming:
                yield Hypothesis(f"{n} so far", False)
        await asyncio.sleep(self.delay_s)
        yield Hypothesis(f"{n} samples", True)


@dataclass
class Recorder:
    conversations: set[str] = field(default_factory=lambda: {"c1"})
    heard_: list[Heard] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    spoke: list[str] = field(default_factory=list)
    turns: list[Heard] = field(default_factory=list)
    only: list[Heard] = field(default_factory=list)

    def has_conversation(self, conversation_id: str) -> bool:
        return conversation_id in self.conversations

    def heard(self, heard: Heard) -> None:
        self.heard_.append(heard)

    def notice(self, text: str, conversation_id: str) -> None:
        self.notices.append(text)

    def speaking(self, conversation_id: str) -> None:
        self.spoke.append(conversation_id)

    async def said(self, heard: Heard) -> None:
        self.turns.append(heard)

    def transcribed(self, heard: Heard) -> None:
        self.only.append(heard)


def tone(seconds: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return bytes((np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes())


def quiet(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


IDS = di.InputIds(conversation_id="c1")


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _hearing(stt: STTBase, limits: AudioLimits | None = None) -> tuple[Hearing, Recorder, Clock]:
    recorder, clock = Recorder(), Clock()
    ears = Ears(stt, LoudnessDetectors(), limits or AudioLimits(silence_ms=300))
    return Hearing(ears, recorder, clock=clock), recorder, clock


async def _feed(hearing: Hearing, pcm: bytes, cid: str = "c1") -> None:
    ids = di.InputIds(conversation_id=cid)
    for i in range(0, len(pcm), 6400):
        await hearing.receive(di.AudioReceived(pcm[i : i + 6400], ids))


async def _until(done: Callable[[], bool]) -> None:
    """Wait (5 s at most) until ``done``; transcription runs in tasks of its own."""
    for _ in range(500):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_push_to_talk_is_one_utterance_transcribed_on_end() -> None:
    stt = Counting()
    hearing, rec, _ = _hearing(stt)
    await hearing.receive(di.AudioSessionStarted(push_to_talk=True, ids=IDS))
    audio = quiet(0.2) + tone(0.5) + quiet(0.5) + tone(0.5)
    await _feed(hearing, audio)
    await asyncio.sleep(0.05)
    assert rec.turns == []  # nothing before the end
    await hearing.receive(di.AudioSessionEnded(IDS))
    await _until(lambda: bool(rec.turns))
    [turn] = rec.turns
    assert turn.text == f"{len(audio) // 2} samples"  # all of it, silences included
    assert rec.heard_ == [turn]
    assert turn.final
    assert turn.interaction_id
    assert turn.utterance_id
    assert rec.spoke == ["c1", "c1"]  # each onset of speech


async def test_open_mic_finds_utterances_and_keeps_their_order() -> None:
    stt = Counting(delay_s=0.05)
    hearing, rec, _ = _hearing(stt)
    await hearing.receive(di.AudioSessionStarted(push_to_talk=False, ids=IDS))
    await _feed(hearing, quiet(0.5) + tone(1.0) + quiet(0.6) + tone(0.4) + quiet(0.6))
    await _until(lambda: len(rec.turns) == 2)
    assert len(rec.turns) == 2
    first, second = (int(t.text.split()[0]) for t in rec.turns)
    # each holds its speech plus the pre-roll and the silence that ended it, not the rest
    assert 1.0 * RATE < first < 1.0 * RATE + 0.65 * RATE
    assert 0.4 * RATE < second < 0.4 * RATE + 0.65 * RATE
    assert rec.turns[0].interaction_id != rec.turns[1].interaction_id
    await hearing.receive(di.AudioSessionEnded(IDS))


async def test_no_speech_means_no_transcription_and_no_turn() -> None:
    stt = Counting()
    hearing, rec, _ = _hearing(stt)
    for audio in (b"", quiet(1.0), tone(0.1)):  # nothing, silence, a click
        await hearing.receive(di.AudioSessionStarted(push_to_talk=True, ids=IDS))
        await _feed(hearing, audio)
        await hearing.receive(di.AudioSessionEnded(IDS))
    await asyncio.sleep(0.3)
    assert stt.calls == 0
    assert rec.heard_ == rec.turns == rec.notices == []


async def test_streaming_backends_send_partials_and_transcript_only_ends_without_a_turn() -> None:
    stt = Counting(streaming=True)
    hearing, rec, _ = _hearing(stt)
    await hearing.receive(di.AudioSessionStarted(push_to_talk=True, transcribe_only=True, ids=IDS))
    await _feed(hearing, tone(1.0))
    await hearing.receive(di.AudioSessionEnded(IDS))
    await _until(lambda: bool(rec.only))
    partials = [h for h in rec.heard_ if not h.final]
    assert len(partials) >= 3
    assert rec.heard_[-1].final
    assert rec.heard_[-1].text == f"{RATE} samples"
    assert {h.interaction_id for h in rec.heard_} == {rec.only[0].interaction_id}
    assert rec.turns == []


async def test_partials_of_noise_are_closed_with_an_empty_final() -> None:
    hearing, rec, _ = _hearing(Counting(streaming=True))
    await hearing.receive(di.AudioSessionStarted(push_to_talk=True, ids=IDS))
    await _feed(hearing, quiet(1.0))
    await hearing.receive(di.AudioSessionEnded(IDS))
    await _until(lambda: any(h.final for h in rec.heard_))
    assert rec.heard_[-1].text == ""
    assert rec.heard_[-1].final
    assert not rec.heard_[0].final
    assert rec.turns == []


async def test_protocol_errors_and_notices() -> None:
    limits = AudioLimits(silence_ms=300, idle_seconds=5)
    hearing, rec, clock = _hearing(Counting(), limits)
    await hearing.receive(di.AudioReceived(tone(0.1), IDS))
    await hearing.receive(di.AudioReceived(tone(0.1), IDS))  # told once
    await hearing.receive(di.AudioSessionEnded(IDS))
    assert len(rec.notices) == 1
    assert "AUDIO_SESSION_START first" in rec.notices[0]
    await hearing.receive(di.AudioSessionStarted(ids=di.InputIds(conversation_id="nope")))
    assert "no conversation 'nope'" in rec.notices[-1]
    await hearing.receive(di.AudioSessionStarted(push_to_talk=True, ids=IDS))
    await hearing.receive(di.AudioReceived(b"\x01", IDS))
    assert "16-bit" in rec.notices[-1]
    with pytest.raises(AudioSessionAlreadyStarted):
        await hearing.receive(di.AudioSessionStarted(push_to_talk=True, ids=IDS))
    clock.now = 10.0
    with pytest.raises(AudioSessionExpired):
        await hearing.receive(di.AudioReceived(tone(0.1), IDS))
    # after the error the conversation can start again
    await hearing.receive(di.AudioSessionStarted(push_to_talk=True, ids=IDS))
    for task in hearing.stop():
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_failing_recognizer_is_a_notice_and_the_mic_goes_on() -> None:
    class Failing(Counting):
        async def _stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Hypothesis, None]:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("model crashed")
            async for h in super()._stream(audio):
                yield h

    hearing, rec, _ = _hearing(Failing())
    await hearing.receive(di.AudioSessionStarted(push_to_talk=False, ids=IDS))
    await _feed(hearing, tone(0.5) + quiet(0.5) + tone(0.5) + quiet(0.5))
    await _until(lambda: bool(rec.turns))
    assert "model crashed" in rec.notices[0]
    assert len(rec.turns) == 1
