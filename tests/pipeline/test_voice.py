"""The voice stage over a scripted turn: order, overlap with the model, gating, cancellation,
failures, and the mapping of a character's voice asset."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from anima.backends.scripted_tts import ScriptedTTS
from anima.backends.tts import VoiceSpec
from anima.domain.character import Character
from anima.domain.events import (
    AudioChunk,
    EmotionChanged,
    Event,
    InteractionEnd,
    NarratedAction,
    Silence,
    SpaffCode,
    Strength,
    TriggerFired,
    Utterance,
)
from anima.pipeline.voice import Speech, voice_of


def turn(gap_s: float = 0.0, log: list[str] | None = None) -> AsyncIterator[Event]:
    async def events() -> AsyncIterator[Event]:
        try:
            for n, text in enumerate(["Hello there.", "The ferry leaves at dawn."], 1):
                if n > 1:
                    await asyncio.sleep(gap_s)  # the model writing the next sentence
                yield Utterance("i1", f"u{n}", "a1", text)
                yield EmotionChanged("i1", f"u{n}", "a1", SpaffCode.JOY, Strength.NORMAL)
            yield NarratedAction("i1", "u3", "a1", "waves")
            yield TriggerFired("i1", "a1", "goal-done")
            yield InteractionEnd("i1", "a1")
        finally:
            if log is not None:
                log.append("closed")

    return events()


def kind(event: Event) -> str:
    name = type(event).__name__
    return f"{name}:{getattr(event, 'utterance_id', '')}"


async def test_text_then_audio_then_emotion_per_utterance_and_the_end_last() -> None:
    speech = Speech(ScriptedTTS())
    events = [e async for e in speech.around(turn(), VoiceSpec(), lambda: True)]
    kinds = [kind(e) for e in events]
    assert kinds[-1] == "InteractionEnd:"
    for u in ("u1", "u2"):
        text, audio = kinds.index(f"Utterance:{u}"), kinds.index(f"AudioChunk:{u}")
        emotion = kinds.index(f"EmotionChanged:{u}")
        assert text < audio < emotion
    # the pause between the two lines, and the narrated action's pause
    silences = [e for e in events if isinstance(e, Silence)]
    assert [(s.utterance_id, s.duration_ms) for s in silences] == [("u2", 200), ("u3", 800)]
    assert kinds.index("TriggerFired:") > kinds.index("Silence:u3")
    audio = [e for e in events if isinstance(e, AudioChunk)]
    assert all(a.phonemes and a.sample_rate == 16000 for a in audio)


async def test_a_line_is_spoken_while_the_model_writes_the_next() -> None:
    speech = Speech(ScriptedTTS(delay_s=0.01))
    kinds = [kind(e) async for e in speech.around(turn(gap_s=0.5), VoiceSpec(), lambda: True)]
    assert kinds.index("AudioChunk:u1") < kinds.index("Utterance:u2")


async def test_no_synthesis_when_not_wanted() -> None:
    tts = ScriptedTTS()
    speech = Speech(tts)
    events = [e async for e in speech.around(turn(), VoiceSpec(), lambda: False)]
    assert not [e for e in events if isinstance(e, AudioChunk | Silence)]
    assert tts.spoken == []
    assert [kind(e) for e in events][:2] == ["Utterance:u1", "EmotionChanged:u1"]


async def test_cancelling_stops_synthesis_and_the_turn_at_once() -> None:
    tts = ScriptedTTS(delay_s=0.2)
    closed: list[str] = []
    seen: list[Event] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for event in Speech(tts).around(turn(log=closed), VoiceSpec(), lambda: True):
            seen.append(event)
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == ["closed"]  # the model's turn was closed too
    assert not [e for e in seen if isinstance(e, AudioChunk)]
    await asyncio.sleep(0.5)  # nothing keeps running in the background
    assert len(tts.spoken) <= 1


async def test_a_line_the_voice_cannot_say_stays_text() -> None:
    tts = ScriptedTTS(fail_times=10, retries=0)
    events = [e async for e in Speech(tts).around(turn(), VoiceSpec(), lambda: True)]
    assert [kind(e) for e in events if isinstance(e, Utterance)] == [
        "Utterance:u1",
        "Utterance:u2",
    ]
    assert not [e for e in events if isinstance(e, AudioChunk)]
    assert isinstance(events[-1], InteractionEnd)


async def test_a_failing_turn_fails_the_stage() -> None:
    async def broken() -> AsyncIterator[Event]:
        yield Utterance("i1", "u1", "a1", "Hello.")
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):
        async for _ in Speech(ScriptedTTS()).around(broken(), VoiceSpec(), lambda: True):
            pass


def character(**fields: object) -> Character:
    return Character.model_validate(fields)


def test_the_voice_asset_maps_to_a_voice_spec() -> None:
    c = character(
        defaultCharacterAssets={
            "voice": {
                "baseName": "heart",
                "gender": "VOICE_GENDER_FEMALE",
                "pitch": 3,
                "speakingRate": 1.2,
            }
        }
    )
    assert voice_of(c) == VoiceSpec(name="heart", gender="female", speed=1.2, pitch=3.0)
    extreme = character(defaultCharacterAssets={"voice": {"pitch": 40, "speakingRate": 9}})
    assert voice_of(extreme) == VoiceSpec(speed=2.0, pitch=12.0)


def test_without_a_voice_the_pronoun_picks_the_gender() -> None:
    he = character(defaultCharacterDescription={"givenName": "Bo", "pronoun": "PRONOUN_MALE"})
    she = character(defaultCharacterDescription={"givenName": "Al", "pronoun": "PRONOUN_FEMALE"})
    assert voice_of(he) == VoiceSpec(gender="male")
    assert voice_of(she) == VoiceSpec(gender="female")
    assert voice_of(character()) == VoiceSpec()
