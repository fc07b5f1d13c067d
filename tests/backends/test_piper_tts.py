"""The optional piper voice (``anima[piper]``, GPL-3.0): its documented alignments become
phoneme timings. Skipped unless the extra is installed; never imported by default."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from anima.backends.tts import VoiceSpec
from anima.pipeline.voice import speak


def test_the_server_never_imports_piper() -> None:
    code = (
        "import sys, anima.app, anima.backends.tts_registry, anima.pipeline.voice;"
        "sys.exit(1 if 'piper' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("piper") is None or importlib.util.find_spec("onnx") is None,
    reason="the piper extra is not installed (pip install 'anima[piper]')",
)
async def test_piper_speaks_with_aligned_phonemes() -> None:
    from anima.backends.piper_tts import PiperTTS

    tts = PiperTTS()
    [chunk] = await speak(tts, "Welcome aboard, traveller.", VoiceSpec())
    assert chunk.sample_rate == 22050
    starts = [p.start for p in chunk.phonemes]
    assert starts == sorted(starts)
    assert starts[-1] < chunk.duration
    symbols = [p.symbol for p in chunk.phonemes]
    assert symbols[0] == "sil"
    assert "w" in symbols
    assert len(symbols) > 15
