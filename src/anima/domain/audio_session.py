"""The player's microphone, without I/O: audio sessions, chunk checks and end-of-speech rules.

A streaming client speaks in *audio sessions*, one at a time per conversation
(streaming-protocol.md §4.3, §5)::

    (none) ──AUDIO_SESSION_START──▶ OPEN ──AUDIO_SESSION_END──▶ (none)
                                     │ ▲
                                     └─┘ audio chunks

    START while OPEN                       AudioSessionAlreadyStarted (AUDIO_SESSION_ALREADY_STARTED)
    a chunk or END with no open session    NoAudioSession            (a WARNING; the chunk is dropped)
    OPEN, no audio for ``idle_seconds``     AudioSessionExpired       (AUDIO_SESSION_EXPIRED)
    push-to-talk longer than ``max_utterance_seconds``  AudioSessionExpired

Two microphone modes: ``PUSH_TO_TALK`` (EXPECT_AUDIO_END: everything between START and END is
one utterance, transcribed on END) and ``OPEN_MIC`` (the server decides where each utterance
ends: ``Endpointer`` over per-frame voice decisions; several utterances per session).

``pcm_of`` checks one chunk: 16-bit little-endian mono PCM at 16 kHz (or a WAV file of that
format); anything else is ``BadAudio`` (a WARNING; the session goes on).
"""

from __future__ import annotations

import io
import wave
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from anima.errors import FailedPrecondition, InvalidArgument

SAMPLE_RATE = 16_000
SAMPLE_BYTES = 2


class MicMode(StrEnum):
    PUSH_TO_TALK = "push_to_talk"  # EXPECT_AUDIO_END
    OPEN_MIC = "open_mic"


class AudioSessionAlreadyStarted(FailedPrecondition):
    """AUDIO_SESSION_START while this conversation's audio session is open."""


class AudioSessionExpired(FailedPrecondition):
    """The audio session stayed open too long (idle, or a push-to-talk over the limit)."""


class NoAudioSession(InvalidArgument):
    """Audio or AUDIO_SESSION_END without an open audio session: the packet is dropped."""


class BadAudio(InvalidArgument):
    """A chunk that is not 16 kHz mono 16-bit PCM, or too large: it is dropped."""


@dataclass(frozen=True, slots=True)
class AudioLimits:
    """What the server accepts and how it finds the end of an utterance (settings ``stt_*``)."""

    max_chunk_bytes: int = 256_000  # 8 s of audio in one packet
    max_utterance_seconds: float = 30.0
    idle_seconds: float = 60.0
    silence_ms: int = 500  # OPEN_MIC: this much silence after speech ends the utterance
    onset_ms: int = 150  # voiced audio within ``onset_window_ms`` that counts as speech
    onset_window_ms: int = 300
    min_speech_ms: int = 200  # less voiced audio than this in an utterance: not speech
    preroll_ms: int = 300  # audio kept from before the detected onset

    @property
    def max_utterance_bytes(self) -> int:
        return int(self.max_utterance_seconds * SAMPLE_RATE) * SAMPLE_BYTES


def pcm_of(chunk: bytes, audio_format: str, limits: AudioLimits) -> bytes:
    """The chunk's samples as 16 kHz mono LINEAR16; ``BadAudio`` when it is something else.

    ``audio_format`` is the packet's ``audioFormat`` name (empty when unspecified, as the
    web SDK sends it). A chunk may also be a whole WAV file of the right format.
    """
    if audio_format not in ("", "UNSPECIFIED_AUDIO_FORMAT", "AUDIO_PCM_16000"):
        raise BadAudio(
            f"audio in {audio_format} is not supported; send 16-bit little-endian mono PCM "
            "at 16 kHz (AUDIO_PCM_16000)"
        )
    if len(chunk) > limits.max_chunk_bytes:
        raise BadAudio(
            f"an audio chunk of {len(chunk)} bytes is larger than {limits.max_chunk_bytes}; "
            "send about 200 ms per packet"
        )
    if chunk[:4] == b"RIFF":
        return _wav_samples(chunk)
    if len(chunk) % SAMPLE_BYTES:
        raise BadAudio(
            f"an audio chunk of {len(chunk)} bytes is not whole 16-bit samples; send "
            "16-bit little-endian mono PCM at 16 kHz"
        )
    return chunk


def _wav_samples(chunk: bytes) -> bytes:
    try:
        with wave.open(io.BytesIO(chunk)) as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            frames: bytes = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise BadAudio(f"an audio chunk starts like a WAV file but is not one ({exc})") from exc
    if (rate, channels, width) != (SAMPLE_RATE, 1, SAMPLE_BYTES):
        raise BadAudio(
            f"WAV audio of {rate} Hz, {channels} channel(s), {8 * width}-bit is not supported; "
            "send 16 kHz mono 16-bit"
        )
    return frames


@dataclass(slots=True)
class AudioSession:
    """One open audio session of one conversation."""

    conversation_id: str
    mode: MicMode
    transcribe_only: bool  # SPEECH_RECOGNITION_ONLY: the transcript comes back, no reply
    opened_at: float
    last_audio_at: float
    utterance_bytes: int = 0  # audio in the current push-to-talk utterance


class AudioSessions:
    """The audio sessions of one connection, by conversation id. Raises on illegal moves."""

    def __init__(self, limits: AudioLimits) -> None:
        self.limits = limits
        self._open: dict[str, AudioSession] = {}

    def get(self, conversation_id: str) -> AudioSession | None:
        return self._open.get(conversation_id)

    def __len__(self) -> int:
        return len(self._open)

    def start(
        self, conversation_id: str, mode: MicMode, transcribe_only: bool, now: float
    ) -> AudioSession:
        current = self._open.get(conversation_id)
        if current is not None and not self._expired(current, now):
            raise AudioSessionAlreadyStarted(
                f"an audio session is already open in conversation '{conversation_id}'; "
                "send AUDIO_SESSION_END first"
            )
        session = AudioSession(conversation_id, mode, transcribe_only, now, now)
        self._open[conversation_id] = session
        return session

    def audio(self, conversation_id: str, pcm: bytes, now: float) -> AudioSession:
        session = self._current(conversation_id, now, "audio")
        session.last_audio_at = now
        if session.mode is MicMode.PUSH_TO_TALK:
            session.utterance_bytes += len(pcm)
            if session.utterance_bytes > self.limits.max_utterance_bytes:
                del self._open[conversation_id]
                raise AudioSessionExpired(
                    f"push-to-talk audio longer than {self.limits.max_utterance_seconds:g} s; "
                    "end the audio session sooner (AUDIO_SESSION_END)"
                )
        return session

    def end(self, conversation_id: str, now: float) -> AudioSession:
        session = self._current(conversation_id, now, "AUDIO_SESSION_END")
        del self._open[conversation_id]
        return session

    def close_all(self) -> list[AudioSession]:
        sessions = list(self._open.values())
        self._open.clear()
        return sessions

    def _current(self, conversation_id: str, now: float, what: str) -> AudioSession:
        session = self._open.get(conversation_id)
        if session is None:
            raise NoAudioSession(
                f"{what} ignored: no audio session is open in conversation "
                f"'{conversation_id}'; send AUDIO_SESSION_START first"
            )
        if self._expired(session, now):
            del self._open[conversation_id]
            raise AudioSessionExpired(
                f"the audio session of conversation '{conversation_id}' expired after "
                f"{self.limits.idle_seconds:g} s without audio; start a new one"
            )
        return session

    def _expired(self, session: AudioSession, now: float) -> bool:
        return now - session.last_audio_at > self.limits.idle_seconds


# -- finding utterances in an open mic ------------------------------------------------------


class Framer:
    """Cuts a stream of PCM chunks of any size into voice-detector frames of ``samples``."""

    def __init__(self, samples: int) -> None:
        self.frame_bytes = samples * SAMPLE_BYTES
        self._rest = b""

    def frames(self, pcm: bytes) -> list[bytes]:
        data = self._rest + pcm
        size = self.frame_bytes
        whole = len(data) - len(data) % size
        self._rest = data[whole:]
        return [data[i : i + size] for i in range(0, whole, size)]


class Speech(StrEnum):
    STARTED = "started"
    ENDED = "ended"


@dataclass(slots=True)
class Endpointer:
    """Where speech starts and ends, from one voiced/unvoiced decision per frame.

    Speech starts when ``onset_ms`` of the last ``onset_window_ms`` were voiced, and ends
    after ``silence_ms`` of unbroken silence, or when the utterance reaches
    ``max_utterance_seconds``. ``voiced_ms`` counts the voiced audio of the current
    utterance (an utterance with less than ``min_speech_ms`` is not speech).
    """

    limits: AudioLimits
    frame_ms: float  # the voice detector's frame (30 ms for WebRTC, 32 ms for Silero)
    in_speech: bool = False
    voiced_ms: float = 0.0
    speech_ms: float = 0.0  # length of the current utterance
    silent_ms: float = 0.0  # unbroken silence at the end of it
    _window: deque[bool] = field(default_factory=deque)

    def push(self, voiced: bool) -> Speech | None:
        limits = self.limits
        if not self.in_speech:
            self._window.append(voiced)
            while len(self._window) * self.frame_ms > limits.onset_window_ms:
                self._window.popleft()
            if sum(self._window) * self.frame_ms < limits.onset_ms:
                return None
            self.in_speech = True
            self.voiced_ms = self.speech_ms = sum(self._window) * self.frame_ms
            self.silent_ms = 0
            self._window.clear()
            return Speech.STARTED
        self.speech_ms += self.frame_ms
        if voiced:
            self.voiced_ms += self.frame_ms
            self.silent_ms = 0
        else:
            self.silent_ms += self.frame_ms
        if (
            self.silent_ms >= limits.silence_ms
            or self.speech_ms >= limits.max_utterance_seconds * 1000
        ):
            self.in_speech = False
            return Speech.ENDED
        return None

    @property
    def is_speech(self) -> bool:
        """Whether the utterance so far has enough voice to be worth transcribing."""
        return self.voiced_ms >= self.limits.min_speech_ms
