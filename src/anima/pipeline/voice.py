"""The voice stage: speech for a turn's utterances, synthesized while the model writes on.

    speech = Speech(tts)
    events = speech.around(events, voice_of(character), wanted=lambda: not muted)

``around`` wraps a turn's event stream. Each ``Utterance`` passes through at once and its
synthesis starts (lines are synthesized one after another, in order, while the model keeps
writing); its ``AudioChunk`` events follow as soon as they are ready, then the events that
belong after them:

    text 1, text 2 ..., [silence], audio 1, emotion 1, [silence], audio 2, emotion 2 ...,
    relationship / triggers, INTERACTION_END (always last)

so each utterance goes out as text, then its audio, then its emotion, all with one utterance
id. A narrated action is a pause (``Silence``) in the speech. ``wanted()`` is asked when each
line arrives: a muted conversation or a client without audio gets no synthesis at all.
Cancelling the task that iterates ``around`` (an interruption) cancels the model's turn and
every synthesis at once. A line the voice fails to speak is logged and stays text only.

Voices: ``voice_of`` maps a character's ``defaultCharacterAssets.voice`` (base name, gender,
pitch, speaking rate, as the hosted platform's Voice resource has them) to a ``VoiceSpec``:

* ``baseName`` is passed to the backend as its voice name when the backend has a voice by that
  name (hibari: ``heart``; espeak-ng: its voice names); otherwise the backend's default voice;
* ``gender`` (``VOICE_GENDER_MALE`` / ``..._FEMALE``, or ``male`` / ``female``) picks among the
  backend's voices; a character without one takes the gender of its pronoun;
* ``pitch`` is in semitones (-12 .. 12; 0 = the voice's own), ``speakingRate`` a multiplier
  (0.5 .. 2; 0 or unset = 1).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import cast

from anima.backends.tts import TTS, SpeechChunk, VoiceSpec
from anima.domain.character import Character, Pronoun
from anima.domain.events import (
    AudioChunk,
    EmotionChanged,
    Event,
    EventStream,
    NarratedAction,
    Silence,
    Utterance,
)
from anima.domain.session import SessionCharacter
from anima.errors import AnimaError
from anima.store import Store

log = logging.getLogger("anima.voice")

BETWEEN_UTTERANCES_MS = 200
NARRATED_ACTION_MS = 800


def voice_of(character: Character) -> VoiceSpec:
    """The backend-neutral voice of a character (see the module docstring)."""
    voice = character.assets.voice
    pronoun = character.description.pronoun
    gender = voice.gender.lower()
    if "female" in gender:
        gender = "female"
    elif "male" in gender:
        gender = "male"
    elif pronoun is Pronoun.PRONOUN_FEMALE:
        gender = "female"
    elif pronoun is Pronoun.PRONOUN_MALE:
        gender = "male"
    else:
        gender = ""
    speed = voice.speaking_rate or 1.0
    return VoiceSpec(
        name=voice.base_name.strip(),
        gender=gender,
        speed=min(2.0, max(0.5, speed)),
        pitch=min(12.0, max(-12.0, voice.pitch)),
    )


async def speak(tts: TTS, text: str, voice: VoiceSpec) -> list[SpeechChunk]:
    """All of a line's speech."""
    async with aclosing(tts.synthesize(text, voice)) as chunks:
        return [chunk async for chunk in chunks]


_Done = object()


@dataclass(slots=True)
class _Line:
    """One spoken (or acted) line waiting for its speech, and what must follow it."""

    said: Utterance | NarratedAction
    speech: asyncio.Task[list[SpeechChunk]] | None
    after: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class Speech:
    """The voice stage for one process: a TTS backend shared by every session."""

    tts: TTS
    voices: dict[tuple[str, str, int], VoiceSpec] = field(default_factory=dict)

    async def voice_for(self, store: Store, workspace: str, agent: SessionCharacter) -> VoiceSpec:
        """The voice of a session's character (its deployed version's voice asset; versions
        never change, so each is read once per process)."""
        key = (workspace, agent.character_id, agent.version)
        if key not in self.voices:
            deployed = await store.characters.get_deployed_version(*key)
            if deployed is None:
                return VoiceSpec()
            if len(self.voices) >= 1024:
                self.voices.pop(next(iter(self.voices)))
            self.voices[key] = voice_of(deployed.character)
        return self.voices[key]

    async def around(
        self, events: EventStream, voice: VoiceSpec, wanted: Callable[[], bool]
    ) -> AsyncIterator[Event]:
        upstream: asyncio.Queue[object] = asyncio.Queue()
        pump = asyncio.create_task(self._pump(events, upstream))
        lines: deque[_Line] = deque()
        spoken = False  # some audio went out in this turn: the next line starts with a pause
        last: asyncio.Task[list[SpeechChunk]] | None = None
        reading: asyncio.Task[object] | None = asyncio.create_task(upstream.get())
        try:
            while reading is not None or lines:
                waits: set[asyncio.Future[object]] = set()
                if reading is not None:
                    waits.add(reading)
                if lines and lines[0].speech is not None:
                    waits.add(lines[0].speech)  # type: ignore[arg-type]
                if waits:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                while lines and (lines[0].speech is None or lines[0].speech.done()):
                    line = lines.popleft()
                    for event in self._finish(line, spoken):
                        spoken = spoken or isinstance(event, AudioChunk)
                        yield event
                if reading is None or not reading.done():
                    continue
                item = reading.result()
                reading = None
                if item is _Done:
                    continue
                if isinstance(item, BaseException):
                    raise item
                reading = asyncio.create_task(upstream.get())
                event = cast(Event, item)
                match event:
                    case Utterance() if wanted():
                        yield event
                        last = asyncio.create_task(self._speak(event.text, voice, last))
                        lines.append(_Line(event, last))
                    case NarratedAction() if wanted():
                        yield event
                        lines.append(_Line(event, None))
                    case EmotionChanged() if any(
                        line.said.utterance_id == event.utterance_id for line in lines
                    ):
                        next(
                            line for line in lines if line.said.utterance_id == event.utterance_id
                        ).after.append(event)
                    case _ if lines:
                        lines[-1].after.append(event)
                    case _:
                        yield event
        finally:
            tasks: list[asyncio.Task[object]] = [pump]
            tasks += [line.speech for line in lines if line.speech is not None]
            if reading is not None:
                tasks.append(reading)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    log.debug("voice stage task ended with %r", task.exception())

    @staticmethod
    async def _pump(events: EventStream, out: asyncio.Queue[object]) -> None:
        """Runs the turn in one task of its own, so it keeps going while speech is made."""
        try:
            async for event in events:
                out.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            out.put_nowait(exc)
            return
        out.put_nowait(_Done)

    async def _speak(
        self, text: str, voice: VoiceSpec, previous: asyncio.Task[list[SpeechChunk]] | None
    ) -> list[SpeechChunk]:
        if previous is not None:  # one line at a time, in order: the CPU is shared
            await asyncio.wait({previous})
        try:
            return await speak(self.tts, text, voice)
        except AnimaError as exc:
            log.warning("no speech for a line: %s", exc.message)
            return []

    def _finish(self, line: _Line, spoken: bool) -> list[Event]:
        said = line.said
        out: list[Event] = []
        ids = (said.interaction_id, said.utterance_id, said.agent_id)
        if isinstance(said, NarratedAction):
            out.append(Silence(*ids, NARRATED_ACTION_MS))
        elif line.speech is not None and not line.speech.cancelled():
            chunks = line.speech.result()
            if chunks and spoken:
                out.append(Silence(*ids, BETWEEN_UTTERANCES_MS))
            out.extend(
                AudioChunk(
                    *ids,
                    audio=chunk.pcm,
                    sample_rate=chunk.sample_rate,
                    phonemes=tuple((p.symbol, p.start) for p in chunk.phonemes),
                )
                for chunk in chunks
            )
        out.extend(line.after)
        return out
