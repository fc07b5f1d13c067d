"""Speech recognition: accuracy, push-to-talk latency and open-mic end detection.

The speech is synthesized here, offline, by the ``hibari-tts`` voice (tests/speech_audio.py),
resampled to 16 kHz mono PCM as a microphone client sends it; nothing is recorded.

1. Word error rate of the default recognizer (faster-whisper, Whisper base int8) on
   ``SENTENCES`` (30 clean utterances) plus ``NOISY`` of them with white noise at 10 and 5 dB
   SNR. Transcripts and references are compared as lower-case words without punctuation.
2. Push-to-talk latency: a ~3 s utterance goes through ``Hearing`` (the server's speech stage,
   in process, real recognizer and voice detector) in 200 ms chunks; the time from
   AUDIO_SESSION_END to the final transcript, ``LATENCY_RUNS`` times (p50, max). The
   recognizer's real-time factor on the same utterance is given beside it, so a loaded
   machine can be told from a slow server.
3. Open-mic end detection: each clean utterance followed by 2 s of silence is cut into 200 ms
   chunks and run through the voice detector and ``Endpointer`` exactly as ``Hearing`` does;
   the latency is the end of the chunk at which the utterance was declared over, minus the
   end of the speech in it (audio time: a client streams in real time), plus the compute
   time spent on that chunk. For both detectors (silero, webrtc), and on 2 s of loud noise
   (false starts).
4. For comparison, the same recognizer decoding over Whisper's full 30-s window (what it did
   before the shortened window, see stt_whisper.py): word error rate on the same utterances
   and the compute time of the ~3 s utterance (p50 of ``LATENCY_RUNS``).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from tests.speech_audio import (
    RATE,
    chunks,
    noise,
    silence,
    speak,
    speech_end,
    with_noise,
    word_errors,
)

from anima.backends.stt_vad import create_detectors
from anima.backends.stt_whisper import WhisperSTT
from anima.domain import inputs as di
from anima.domain.audio_session import AudioLimits, Endpointer, Framer, Speech
from anima.pipeline.hearing import Ears, Heard, Hearing

SENTENCES = (
    "Hello there, how are you today?",
    "Could you tell me the way to the old lighthouse?",
    "I would like a room for the night, please.",
    "What is the weather like tomorrow morning?",
    "My name is Tom and I came from the city.",
    "Do you know where the blacksmith lives?",
    "I lost my sword somewhere near the river.",
    "How much does a loaf of bread cost here?",
    "Tell me a story about the mountain king.",
    "Is the bridge safe to cross at night?",
    "I am looking for a guide to the northern forest.",
    "Thank you very much for your help.",
    "Where can I buy a warm coat?",
    "Have you seen a tall man with a red hat?",
    "The horses are tired and need water.",
    "Please wake me up at seven o'clock.",
    "Why is everyone in the village so quiet?",
    "I think somebody is following us.",
    "Can you read this letter for me?",
    "We should leave before the sun goes down.",
    "What do you sell in your little shop?",
    "My brother will arrive on the next ship.",
    "Is there a doctor in this town?",
    "The door was open when I got here.",
    "I will pay you twenty gold coins.",
    "Let us have dinner together tonight.",
    "How long have you lived by the sea?",
    "Show me the map of the old castle.",
    "I never said that I was a knight.",
    "Goodbye, and see you again next week.",
)
NOISY = ((10.0, SENTENCES[:5]), (5.0, SENTENCES[5:8]))
THREE_SECONDS = "Could you please tell me the way to the old lighthouse by the harbour?"
LATENCY_RUNS = 7
CHUNK_MS = 200


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cases() -> list[tuple[str, bytes, str]]:
    cases = [(s, speak(s), "clean") for s in SENTENCES]
    cases += [
        (s, with_noise(speak(s), snr, seed=i), f"snr{snr:g}")
        for snr, group in NOISY
        for i, s in enumerate(group)
    ]
    return cases


async def _wer(transcribe: Callable[[bytes], Awaitable[str]]) -> dict[str, Any]:
    rows = []
    totals: dict[str, list[int]] = {}
    cases = _cases()
    for reference, pcm, kind in cases:
        text = await transcribe(pcm)
        errors, count = word_errors(reference, text)
        totals.setdefault(kind, [0, 0])
        totals[kind][0] += errors
        totals[kind][1] += count
        rows.append({"kind": kind, "reference": reference, "heard": text, "errors": errors})
    all_errors = sum(e for e, _ in totals.values())
    all_words = sum(n for _, n in totals.values())
    return {
        "utterances": len(cases),
        "wer": round(all_errors / all_words, 4),
        "wer_by_kind": {k: round(e / n, 4) for k, (e, n) in totals.items()},
        "target_wer": 0.1,
        "met": all_errors / all_words < 0.1,
        "transcripts": rows,
    }


class _Timer:
    """A Listener that notes when the final transcript arrives."""

    def __init__(self) -> None:
        self.final: asyncio.Future[tuple[float, Heard]] = asyncio.get_running_loop().create_future()

    def has_conversation(self, conversation_id: str) -> bool:
        return True

    def heard(self, heard: Heard) -> None:
        if heard.final and not self.final.done():
            self.final.set_result((time.perf_counter(), heard))

    def notice(self, text: str, conversation_id: str) -> None:
        if not self.final.done():
            self.final.set_exception(RuntimeError(text))

    def speaking(self, conversation_id: str) -> None:
        return None

    async def said(self, heard: Heard) -> None:
        return None

    def transcribed(self, heard: Heard) -> None:
        return None


async def _push_to_talk(stt: WhisperSTT) -> dict[str, Any]:
    pcm = speak(THREE_SECONDS)
    ears = Ears(stt, create_detectors("silero"), AudioLimits())
    ids = di.InputIds(conversation_id="c1")
    latencies, rtf = [], []
    text = ""
    for _ in range(LATENCY_RUNS):
        timer = _Timer()
        hearing = Hearing(ears, timer)
        await hearing.receive(di.AudioSessionStarted(push_to_talk=True, ids=ids))
        for chunk in chunks(pcm, CHUNK_MS):
            await hearing.receive(di.AudioReceived(chunk, ids))
            await asyncio.sleep(0)
        ended = time.perf_counter()
        await hearing.receive(di.AudioSessionEnded(ids))
        done, heard = await timer.final
        latencies.append(done - ended)
        text = heard.text
        started = time.perf_counter()
        await stt.transcribe(pcm)
        rtf.append((time.perf_counter() - started) / (len(pcm) / (2 * RATE)))
        for task in hearing.stop():
            task.cancel()
    p50 = statistics.median(latencies)
    return {
        "utterance_seconds": round(len(pcm) / (2 * RATE), 2),
        "heard": text,
        "runs": LATENCY_RUNS,
        "end_to_final_ms_p50": round(p50 * 1000),
        "end_to_final_ms_max": round(max(latencies) * 1000),
        "real_time_factor_p50": round(statistics.median(rtf), 3),
        "target_ms": 500,
        "met": p50 < 0.5,
    }


def _end_detection(detector_name: str) -> dict[str, Any]:
    detectors = create_detectors(detector_name)
    limits = AudioLimits()
    latencies, missed = [], 0
    for sentence in SENTENCES:
        speech = speak(sentence)
        said_until = speech_end(speech)
        detector = detectors.new()
        framer = Framer(detector.frame_samples)
        endpointer = Endpointer(limits, 1000 * detector.frame_samples / RATE)
        found = None
        for i, chunk in enumerate(chunks(silence(0.3) + speech + silence(2.0), CHUNK_MS)):
            started = time.perf_counter()
            events = [endpointer.push(detector.is_speech(f)) for f in framer.frames(chunk)]
            compute = time.perf_counter() - started
            if Speech.ENDED in events:
                found = (i + 1) * CHUNK_MS / 1000 - (0.3 + said_until) + compute
                break
        if found is None:
            missed += 1
        else:
            latencies.append(found)
    false_starts = 0
    for seed in range(5):
        detector = detectors.new()
        framer = Framer(detector.frame_samples)
        endpointer = Endpointer(limits, 1000 * detector.frame_samples / RATE)
        for chunk in chunks(noise(2.0, level=0.1, seed=seed), CHUNK_MS):
            if Speech.STARTED in [
                endpointer.push(detector.is_speech(f)) for f in framer.frames(chunk)
            ]:
                false_starts += 1
                break
    return {
        "utterances": len(SENTENCES),
        "missed": missed,
        "end_detected_ms_p50": round(statistics.median(latencies) * 1000) if latencies else None,
        "end_detected_ms_max": round(max(latencies) * 1000) if latencies else None,
        "end_detected_ms_p90": round(_pct(latencies, 0.9) * 1000) if latencies else None,
        "noise_false_starts": f"{false_starts}/5",
        "silence_ms": limits.silence_ms,
        "target_ms": 800,
        "met": bool(latencies) and missed == 0 and max(latencies) < 0.8,
    }


async def _full_window(stt: WhisperSTT) -> dict[str, Any]:
    model = await asyncio.to_thread(stt.load)

    def decode(pcm: bytes) -> str:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        return str(stt._decode_windows(model, samples))

    async def transcribe(pcm: bytes) -> str:
        return await asyncio.to_thread(decode, pcm)

    pcm = speak(THREE_SECONDS)
    compute = []
    for _ in range(LATENCY_RUNS):
        started = time.perf_counter()
        await transcribe(pcm)
        compute.append(time.perf_counter() - started)
    wer = await _wer(transcribe)
    return {
        "three_second_compute_ms_p50": round(statistics.median(compute) * 1000),
        "real_time_factor_p50": round(statistics.median(compute) / (len(pcm) / (2 * RATE)), 3),
        "wer": wer["wer"],
        "wer_by_kind": wer["wer_by_kind"],
        "utterances": wer["utterances"],
    }


async def main() -> dict[str, Any]:
    stt = WhisperSTT(Path(os.environ.get("ANIMA_DATA_DIR", ".anima")), timeout_s=600)
    started = time.perf_counter()
    await stt.warm()
    load_s = time.perf_counter() - started
    return {
        "backend": "embedded (faster-whisper 1.2.1, Whisper base, int8, greedy, English, "
        "window shortened to the utterance + 1 s)",
        "threads": stt.threads,
        "model_load_s": round(load_s, 1),
        "load_average_before": list(os.getloadavg()),
        "end_of_speech": {name: _end_detection(name) for name in ("silero", "webrtc")},
        "push_to_talk": await _push_to_talk(stt),
        "word_error_rate": await _wer(stt.transcribe),
        "full_window_for_comparison": await _full_window(stt),
        "load_average_after": list(os.getloadavg()),
    }
