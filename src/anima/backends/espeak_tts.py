"""espeak-ng (Debian's ``espeak-ng``, GPL-3.0): instant, robotic, many voices, phoneme events
with their positions. libespeak-ng runs in a process of its own (backends/espeak_worker.py),
never in the server's, and is talked to over pipes.

Voices: the character's ``baseName`` when espeak-ng has a voice by that name (``en-gb``,
``en-us+f2``...; see ``espeak-ng --voices``), else ``en-us+f3`` (female), ``en-us+m3`` (male)
or ``en-us``. Speed scales the rate (175 words a minute), pitch moves espeak-ng's pitch
(0-99, 50 = the voice's own) by about four steps a semitone.
"""

from __future__ import annotations

import asyncio
import ctypes.util
import json
import logging
import subprocess
import sys
import threading
from collections.abc import AsyncGenerator
from typing import IO, TYPE_CHECKING, Any, ClassVar

from anima.backends.tts import Phoneme, SpeechChunk, TTSBase, VoiceSpec
from anima.errors import BackendError

if TYPE_CHECKING:
    from anima.settings import Settings

log = logging.getLogger("anima.tts")

INSTALL = "apt-get install espeak-ng (Debian/Ubuntu), or your system's espeak-ng package"
VOICE_BY_GENDER = {"female": "en-us+f3", "male": "en-us+m3", "": "en-us"}
_STRESS = str.maketrans("", "", "ˈˌ")


class EspeakTTS(TTSBase):
    name: ClassVar[str] = "espeak"
    sample_rate = 22050

    def __init__(self, *, timeout_s: float = 20.0, retries: int = 1) -> None:
        super().__init__(timeout_s=timeout_s, retries=retries)
        if ctypes.util.find_library("espeak-ng") is None:
            raise BackendError(
                f"the espeak voice needs libespeak-ng, which is not installed: {INSTALL}",
                retryable=False,
            )
        self._lock = threading.Lock()
        self._worker: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EspeakTTS:
        return cls(timeout_s=settings.tts_timeout_seconds)

    async def aclose(self) -> None:
        with self._lock:
            if self._worker is not None:
                _stop(self._worker)
                self._worker = None

    async def _synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]:
        fallback = VOICE_BY_GENDER.get(voice.gender, "en-us")
        request = {
            "text": text,
            "voice": voice.name or fallback,
            "rate": round(175 * (voice.speed or 1.0)),
            "pitch": max(0, min(99, round(50 + 4 * voice.pitch))),
        }
        answer, pcm = await asyncio.to_thread(self._ask, request)
        if "error" in answer and voice.name:
            log.debug("espeak-ng: %s; speaking with %s", answer["error"], fallback)
            answer, pcm = await asyncio.to_thread(self._ask, {**request, "voice": fallback})
        if "error" in answer:
            raise BackendError(f"espeak-ng: {answer['error']}", retryable=False)
        phonemes = tuple(
            Phoneme(symbol.translate(_STRESS), float(start))
            for symbol, start in answer["phonemes"]
            if symbol.translate(_STRESS)
        )
        yield SpeechChunk(pcm, int(answer["sample_rate"]), phonemes)

    def _ask(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        with self._lock:
            worker = self._start()
            stdin, stdout = _pipes(worker)
            try:
                stdin.write(json.dumps(request).encode() + b"\n")
                stdin.flush()
                answer: dict[str, Any] = json.loads(stdout.readline())
                pcm = stdout.read(int(answer.get("bytes", 0)))
            except (OSError, ValueError) as exc:
                _stop(worker)
                self._worker = None
                raise BackendError(f"the espeak-ng process failed: {exc}", retryable=True) from exc
            return answer, pcm

    def _start(self) -> subprocess.Popen[bytes]:
        if self._worker is None or self._worker.poll() is not None:
            self._worker = subprocess.Popen(
                [sys.executable, "-m", "anima.backends.espeak_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        return self._worker


def _pipes(worker: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes]]:
    assert worker.stdin is not None
    assert worker.stdout is not None
    return worker.stdin, worker.stdout


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.kill()
    worker.wait()
    for pipe in _pipes(worker):
        pipe.close()
