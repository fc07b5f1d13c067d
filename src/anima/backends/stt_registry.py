"""Picks the speech recognizer named by ``Settings.stt_backend`` (lazy ``"module:Class"``
strings, as in registry.py); ``none`` turns speech input off (audio is answered with a
WARNING). Building a recognizer loads no model: Whisper loads on its first utterance."""

from __future__ import annotations

from typing import cast

from anima.backends.registry import build_backend
from anima.backends.stt import STT
from anima.errors import InvalidArgument
from anima.settings import Settings

STT_BACKENDS = {
    "embedded": "anima.backends.stt_whisper:WhisperSTT",
    "sphinx": "anima.backends.stt_sphinx:SphinxSTT",
    "openai": "anima.backends.stt_openai:OpenAISTT",
}


def create_stt(settings: Settings) -> STT | None:
    """The recognizer of ``settings.stt_backend``, or None for ``none``."""
    if settings.stt_backend == "none":
        return None
    instance = build_backend(settings, "stt_backend", STT_BACKENDS)
    if not callable(getattr(instance, "stream", None)):
        raise InvalidArgument(
            f"stt_backend {settings.stt_backend!r} is not a speech recognizer (needs `stream`)",
            field="stt_backend",
        )
    return cast(STT, instance)
