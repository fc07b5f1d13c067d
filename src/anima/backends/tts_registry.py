"""TTS backends chosen by name (``Settings.tts_backend``), as registry.py does for LLMs.

``off`` means no speech: the streaming faces send text only and ``:synthesize`` answers
FAILED_PRECONDITION. Every other name must load at start-up or the server does not start
(a missing package is named with the command that installs it).
"""

from __future__ import annotations

from typing import cast

from anima.backends.registry import EXTRAS, build_backend
from anima.backends.tts import TTS
from anima.settings import Settings

TTS_BACKENDS = {
    "hibari": "anima.backends.hibari_tts:HibariTTS",
    "espeak": "anima.backends.espeak_tts:EspeakTTS",
    "piper": "anima.backends.piper_tts:PiperTTS",
    "openai": "anima.backends.openai_tts:OpenAITTS",
    "scripted": "anima.backends.scripted_tts:ScriptedTTS",
}

EXTRAS.setdefault("hibari", "pip install hibari-tts==0.2.1")
EXTRAS.setdefault("piper", "pip install 'anima[piper]' (piper-tts and its voice; GPL-3.0)")


def create_tts(settings: Settings) -> TTS | None:
    """The speech backend, or None with ``tts_backend=off``. Blocking (loads a model): call it
    once per process, at start-up, and share the instance."""
    if settings.tts_backend == "off":
        return None
    return cast(TTS, build_backend(settings, "tts_backend", TTS_BACKENDS))
