"""The audio session state machine, chunk checks and the open-mic end-of-speech rules."""

from __future__ import annotations

import io
import wave

import pytest

from anima.domain.audio_session import (
    AudioLimits,
    AudioSessionAlreadyStarted,
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

LIMITS = AudioLimits(idle_seconds=10, max_utterance_seconds=2, silence_ms=300)


def test_a_session_opens_takes_audio_and_ends() -> None:
    sessions = AudioSessions(LIMITS)
    opened = sessions.start("c1", MicMode.PUSH_TO_TALK, transcribe_only=True, now=0.0)
    assert sessions.audio("c1", b"\0\0" * 100, now=1.0) is opened
    assert sessions.end("c1", now=2.0) is opened
    assert opened.transcribe_only
    assert sessions.get("c1") is None


def test_illegal_moves_are_refused() -> None:
    sessions = AudioSessions(LIMITS)
    with pytest.raises(NoAudioSession, match="AUDIO_SESSION_START first"):
        sessions.audio("c1", b"\0\0", now=0.0)
    with pytest.raises(NoAudioSession):
        sessions.end("c1", now=0.0)
    sessions.start("c1", MicMode.OPEN_MIC, transcribe_only=False, now=0.0)
    with pytest.raises(AudioSessionAlreadyStarted):
        sessions.start("c1", MicMode.OPEN_MIC, transcribe_only=False, now=1.0)
    sessions.start("c2", MicMode.OPEN_MIC, transcribe_only=False, now=1.0)  # another conversation
    assert len(sessions) == 2


def test_a_session_left_idle_expires() -> None:
    sessions = AudioSessions(LIMITS)
    sessions.start("c1", MicMode.OPEN_MIC, transcribe_only=False, now=0.0)
    sessions.audio("c1", b"\0\0", now=9.0)
    with pytest.raises(AudioSessionExpired, match="expired"):
        sessions.audio("c1", b"\0\0", now=19.5)
    assert sessions.get("c1") is None
    # an expired session does not block a new start either
    sessions.start("c1", MicMode.OPEN_MIC, transcribe_only=False, now=30.0)
    assert sessions.start("c1", MicMode.OPEN_MIC, False, now=45.0).opened_at == 45.0


def test_push_to_talk_longer_than_the_limit_expires() -> None:
    sessions = AudioSessions(LIMITS)
    sessions.start("c1", MicMode.PUSH_TO_TALK, transcribe_only=False, now=0.0)
    second = b"\0\0" * 16_000
    sessions.audio("c1", second, now=1.0)
    sessions.audio("c1", second, now=2.0)
    with pytest.raises(AudioSessionExpired, match="longer than 2 s"):
        sessions.audio("c1", b"\0\0", now=2.1)


def test_open_mic_has_no_length_limit_per_session() -> None:
    sessions = AudioSessions(LIMITS)
    sessions.start("c1", MicMode.OPEN_MIC, transcribe_only=False, now=0.0)
    for t in range(5):
        sessions.audio("c1", b"\0\0" * 16_000, now=float(t))


def _wav(rate: int, channels: int, width: int, frames: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setframerate(rate)
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.writeframes(frames)
    return buffer.getvalue()


def test_chunk_checks() -> None:
    pcm = b"\x01\x00" * 160
    assert pcm_of(pcm, "", LIMITS) == pcm
    assert pcm_of(pcm, "AUDIO_PCM_16000", LIMITS) == pcm
    assert pcm_of(_wav(16_000, 1, 2, pcm), "", LIMITS) == pcm
    with pytest.raises(BadAudio, match="16-bit"):
        pcm_of(b"\x01\x02\x03", "", LIMITS)
    with pytest.raises(BadAudio, match="AUDIO_MP3"):
        pcm_of(pcm, "AUDIO_MP3", LIMITS)
    with pytest.raises(BadAudio, match="AUDIO_PCM_22050"):
        pcm_of(pcm, "AUDIO_PCM_22050", LIMITS)
    with pytest.raises(BadAudio, match="larger than"):
        pcm_of(bytes(LIMITS.max_chunk_bytes + 2), "", LIMITS)
    with pytest.raises(BadAudio, match="44100 Hz, 2 channel"):
        pcm_of(_wav(44_100, 2, 2, pcm * 2), "", LIMITS)
    with pytest.raises(BadAudio, match="not one"):
        pcm_of(b"RIFF\x00\x00", "", LIMITS)


def test_framer_cuts_any_chunking_into_whole_frames() -> None:
    framer = Framer(480)
    data = bytes(range(256)) * 20  # 5120 bytes = 5 frames of 960, 320 left over
    frames = (
        framer.frames(data[:1000]) + framer.frames(data[1000:3001]) + framer.frames(data[3001:])
    )
    assert [len(f) for f in frames] == [960] * 5
    assert b"".join(frames) == data[:4800]


def _run(endpointer: Endpointer, pattern: str) -> list[tuple[int, Speech]]:
    found = []
    for i, c in enumerate(pattern):
        event = endpointer.push(c == "#")
        if event is not None:
            found.append((i, event))
    return found


def test_endpointer_finds_onset_and_the_end_after_the_silence_threshold() -> None:
    ep = Endpointer(AudioLimits(silence_ms=300, onset_ms=150, onset_window_ms=300), frame_ms=30)
    # a click (2 frames) is no onset; speech with a short gap is one utterance
    pattern = "..##......" + "######..######" + "." * 12
    events = _run(ep, pattern)
    assert events[0] == (14, Speech.STARTED)  # the 5th voiced frame of the window
    # 10 silent frames (300 ms) after the last voiced one (index 23)
    assert events[1] == (33, Speech.ENDED)
    assert len(events) == 2


def test_endpointer_counts_voiced_audio_and_caps_the_utterance() -> None:
    limits = AudioLimits(silence_ms=300, max_utterance_seconds=1.0, min_speech_ms=200)
    ep = Endpointer(limits, frame_ms=32)
    events = _run(ep, "#" * 32)
    assert events[0][1] is Speech.STARTED
    assert events[1][1] is Speech.ENDED  # 1 s reached without silence
    assert ep.voiced_ms >= 1000
    assert ep.is_speech
    short = Endpointer(limits, frame_ms=32)
    _run(short, "#####" + "." * 12)
    assert not short.is_speech  # 160 ms of voice
