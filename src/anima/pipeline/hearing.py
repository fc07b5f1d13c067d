"""Hearing: the player's microphone on a streaming connection, turned into what they said.

    AUDIO_SESSION_START ─▶ AudioSessions (domain/audio_session.py) ─▶ a _Mic per conversation
    audio chunk ─ pcm_of ─▶ frames ─ voice detector ─▶ Endpointer ─▶ utterances
    utterance ─▶ STT backend (one at a time per mic, in order) ─▶ Heard (partials, final)
    final text ─▶ Listener.said (the turn starts exactly as for typed text)
                  or, with SPEECH_RECOGNITION_ONLY, Listener.transcribed (no reply)

Push-to-talk (EXPECT_AUDIO_END): the whole session is one utterance, transcribed on
AUDIO_SESSION_END. Open mic: the voice detector finds each utterance; ``stt_silence_ms`` of
silence ends one (several per session). An utterance with less than ``stt_min_speech_ms``
of voiced audio (silence, noise, a click) is not transcribed and starts no turn. The onset of
speech calls ``Listener.speaking`` (barge-in, with the ``interruptions`` capability).

A backend that streams (``STT.streaming``) gets the audio as it arrives and its partial
hypotheses go out as ``Heard(final=False)``; any other gets the utterance whole once it ended.
Protocol errors (AUDIO_SESSION_ALREADY_STARTED, AUDIO_SESSION_EXPIRED) are raised to the
session core, which ends the connection with them; bad chunks, audio without a session and a
failing recognizer are notices, and the session goes on. Audio is never stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Protocol

from anima.backends.stt import STT
from anima.backends.stt_registry import create_stt
from anima.backends.stt_vad import VoiceDetector, VoiceDetectors, create_detectors
from anima.domain import inputs as di
from anima.domain.audio_session import (
    SAMPLE_RATE,
    AudioLimits,
    AudioSession,
    AudioSessionExpired,
    AudioSessions,
    BadAudio,
    Endpointer,
    Framer,
    MicMode,
    NoAudioSession,
    Speech,
    pcm_of,
)
from anima.errors import AnimaError
from anima.settings import Settings

log = logging.getLogger("anima.hearing")

AudioInput = di.AudioSessionStarted | di.AudioSessionEnded | di.AudioReceived


@dataclass(frozen=True, slots=True)
class Heard:
    """What the player said: a PLAYER text packet with sourceType SPEECH_TO_TEXT.

    The interaction and utterance ids are minted here and announced by this packet; the
    character's reply to the final text reuses them (streaming-protocol.md §4.3, §5)."""

    text: str
    final: bool
    interaction_id: str
    utterance_id: str
    conversation_id: str


class Listener(Protocol):
    """What hearing needs from the session core."""

    def has_conversation(self, conversation_id: str) -> bool: ...

    def heard(self, heard: Heard) -> None: ...

    def notice(self, text: str, conversation_id: str) -> None: ...

    def speaking(self, conversation_id: str) -> None: ...

    async def said(self, heard: Heard) -> None: ...

    def transcribed(self, heard: Heard) -> None: ...


@dataclass(frozen=True, slots=True)
class Ears:
    """What every connection of a process shares: the recognizer, voice detectors, limits."""

    stt: STT
    detectors: VoiceDetectors
    limits: AudioLimits = field(default_factory=AudioLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> Ears | None:
        """Built at start-up (loads no speech model); None when ``stt_backend`` is ``none``."""
        stt = create_stt(settings)
        if stt is None:
            return None
        detectors = create_detectors(
            settings.stt_vad,
            aggressiveness=settings.stt_vad_aggressiveness,
            threshold=settings.stt_vad_threshold,
        )
        limits = AudioLimits(
            max_utterance_seconds=settings.stt_max_utterance_seconds,
            idle_seconds=settings.stt_idle_seconds,
            silence_ms=settings.stt_silence_ms,
            min_speech_ms=settings.stt_min_speech_ms,
        )
        return cls(stt, detectors, limits)


@dataclass(slots=True)
class _Utterance:
    conversation_id: str
    interaction_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    utterance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    audio: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    voiced_ms: float = 0.0
    ended: bool = False

    def add(self, pcm: bytes) -> None:
        if pcm and not self.ended:
            self.audio.put_nowait(pcm)

    def end(self, voiced_ms: float) -> None:
        if not self.ended:
            self.ended = True
            self.voiced_ms = voiced_ms
            self.audio.put_nowait(None)

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        while (chunk := await self.audio.get()) is not None:
            yield chunk

    async def whole(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    def heard(self, text: str, final: bool) -> Heard:
        return Heard(text, final, self.interaction_id, self.utterance_id, self.conversation_id)


class _Mic:
    """One open audio session: finds utterances and transcribes them one after another."""

    def __init__(self, session: AudioSession, ears: Ears, listener: Listener) -> None:
        self.session = session
        self.ears = ears
        self.listener = listener
        self.detector: VoiceDetector = ears.detectors.new()
        self.frame_ms = 1000 * self.detector.frame_samples / SAMPLE_RATE
        self.framer = Framer(self.detector.frame_samples)
        self.endpointer = Endpointer(ears.limits, self.frame_ms)
        keep = max(1, round(ears.limits.preroll_ms / self.frame_ms))
        self.preroll: deque[bytes] = deque(maxlen=keep)
        self.current: _Utterance | None = None
        self.queue: asyncio.Queue[_Utterance | None] = asyncio.Queue()
        self.worker = asyncio.create_task(self._work())
        if session.mode is MicMode.PUSH_TO_TALK:
            self._begin()

    @property
    def push_to_talk(self) -> bool:
        return self.session.mode is MicMode.PUSH_TO_TALK

    def hear(self, pcm: bytes) -> None:
        utterance = self.current
        if self.push_to_talk and utterance is not None:
            utterance.add(pcm)
        for frame in self.framer.frames(pcm):
            voiced = self.detector.is_speech(frame)
            event = self.endpointer.push(voiced)
            if self.push_to_talk:
                if utterance is not None and voiced:
                    utterance.voiced_ms += self.frame_ms
                if event is Speech.STARTED:
                    self.listener.speaking(self.session.conversation_id)
                continue
            if event is Speech.STARTED:
                self.listener.speaking(self.session.conversation_id)
                self._begin(b"".join(self.preroll))
                self.preroll.clear()
            if self.current is not None:
                self.current.add(frame)
            else:
                self.preroll.append(frame)
            if event is Speech.ENDED:
                self._finish(self.endpointer.voiced_ms)

    def end(self) -> None:
        """AUDIO_SESSION_END: the utterance in progress is complete; nothing more comes."""
        if self.current is not None:
            voiced = self.current.voiced_ms if self.push_to_talk else self.endpointer.voiced_ms
            self._finish(voiced)
        self.queue.put_nowait(None)

    def _begin(self, preroll: bytes = b"") -> None:
        self.current = _Utterance(self.session.conversation_id)
        self.current.add(preroll)
        self.queue.put_nowait(self.current)

    def _finish(self, voiced_ms: float) -> None:
        if self.current is not None:
            self.current.end(voiced_ms)
            self.current = None

    async def _work(self) -> None:
        try:
            await self.ears.stt.warm()  # while the player speaks
        except AnimaError as exc:
            self.listener.notice(
                f"speech recognition is unavailable: {exc.message}", self.session.conversation_id
            )
            return
        while (utterance := await self.queue.get()) is not None:
            try:
                await self._transcribe(utterance)
            except AnimaError as exc:
                log.warning("speech recognition failed: %s", exc.message)
                self.listener.notice(
                    f"speech could not be recognised: {exc.message}", utterance.conversation_id
                )

    async def _transcribe(self, utterance: _Utterance) -> None:
        stt = self.ears.stt
        min_ms = self.ears.limits.min_speech_ms
        if stt.streaming:
            source = utterance.chunks()
        else:
            pcm = await utterance.whole()
            if utterance.voiced_ms < min_ms:
                log.debug("utterance of %d bytes without speech: not transcribed", len(pcm))
                return
            source = _once(pcm)
        partials = False
        async with aclosing(stt.stream(source)) as hypotheses:
            async for h in hypotheses:
                if not h.final:
                    partials = True
                    self.listener.heard(utterance.heard(h.text, final=False))
                    continue
                text = h.text if utterance.voiced_ms >= min_ms else ""
                if not text:
                    if partials:  # close the hypotheses the client was shown
                        self.listener.heard(utterance.heard("", final=True))
                    return
                heard = utterance.heard(text, final=True)
                self.listener.heard(heard)
                if self.session.transcribe_only:
                    self.listener.transcribed(heard)
                else:
                    await self.listener.said(heard)


async def _once(pcm: bytes) -> AsyncGenerator[bytes, None]:
    yield pcm


class Hearing:
    """The audio sessions of one connection (built per connection over the shared ``Ears``)."""

    def __init__(
        self, ears: Ears, listener: Listener, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ears = ears
        self.listener = listener
        self.sessions = AudioSessions(ears.limits)
        self._clock = clock
        self._mics: dict[str, _Mic] = {}
        self._workers: set[asyncio.Task[None]] = set()  # also of ended sessions, still working
        self._warned: set[str] = set()  # conversations told once that no session is open

    async def receive(self, item: AudioInput) -> None:
        """Apply one audio input; raises the protocol's errors, notices the rest."""
        cid = item.ids.conversation_id
        try:
            match item:
                case di.AudioSessionStarted():
                    self._start(item, cid)
                case di.AudioReceived(audio=chunk, audio_format=audio_format):
                    pcm = pcm_of(chunk, audio_format, self.ears.limits)
                    self.sessions.audio(cid, pcm, self._clock())
                    self._mics[cid].hear(pcm)
                case di.AudioSessionEnded():
                    self.sessions.end(cid, self._clock())
                    self._mics.pop(cid).end()
        except AudioSessionExpired:
            self._drop(cid)
            raise
        except NoAudioSession as exc:
            if cid not in self._warned:
                self._warned.add(cid)
                self.listener.notice(exc.message, cid)
        except BadAudio as exc:
            self.listener.notice(f"audio chunk ignored: {exc.message}", cid)

    def _start(self, item: di.AudioSessionStarted, cid: str) -> None:
        if not self.listener.has_conversation(cid):
            self.listener.notice(
                f"AUDIO_SESSION_START ignored: no conversation '{cid}' "
                "(send CONVERSATION_UPDATE first)",
                cid,
            )
            return
        mode = MicMode.PUSH_TO_TALK if item.push_to_talk else MicMode.OPEN_MIC
        expired = self.sessions.get(cid)
        session = self.sessions.start(cid, mode, item.transcribe_only, self._clock())
        if expired is not None:
            self._drop(cid)  # replaced after it expired; what it heard is dropped
        self._warned.discard(cid)
        mic = self._mics[cid] = _Mic(session, self.ears, self.listener)
        self._workers.add(mic.worker)
        mic.worker.add_done_callback(self._workers.discard)

    def _drop(self, cid: str) -> None:
        mic = self._mics.pop(cid, None)
        if mic is not None:
            mic.worker.cancel()

    def stop(self) -> list[asyncio.Task[None]]:
        """The connection ends: cancel every transcription; the tasks, to await."""
        self.sessions.close_all()
        self._mics.clear()
        tasks = list(self._workers)
        for task in tasks:
            task.cancel()
        return tasks
