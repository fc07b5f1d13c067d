"""The embedded voice: hibari-tts 0.2.1 (Apache-2.0), a 7.9 MB int8 ONNX model distilled from
Kokoro, 24 kHz, with its own grapheme-to-phoneme front end. One voice ships in the wheel
("heart", American English, female); hibari fetches its other voices from a model hub, which
this backend never does.

hibari has no timing API. The per-phoneme durations come from an internal tensor of its ONNX
graph, ``/Cast_32_output_0`` (int64, one entry per input id, pads included, in units of two
12.5 ms frames = 600 samples), which this backend adds as a graph output when it loads the
model. That tensor's name belongs to this exact model file, so the version and the file's
sha256 are pinned here and tests/backends/test_hibari_tts.py checks the tensor against the
audio length.

Pitch (``VoiceSpec.pitch``, semitones) scales the model's predicted F0 before the vocoder;
speed is the model's own ``speed`` input. The one bundled voice is female: a male character
gets it five semitones lower (``MALE_PITCH``), an approximation, not a male voice.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from anima.backends.models import package_dir, verify
from anima.backends.tts import Phoneme, SpeechChunk, TTSBase, VoiceSpec, timed_phonemes
from anima.errors import BackendError

if TYPE_CHECKING:
    from anima.settings import Settings

VERSION = "0.2.1"
INSTALL = f"pip install hibari-tts=={VERSION}"
MODEL_FILE = "assets/hibari.onnx"
MODEL_SHA256 = "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8"
DURATIONS_TENSOR = "/Cast_32_output_0"
SAMPLE_RATE = 24000
SAMPLES_PER_UNIT = 600  # one duration unit = two frames of the 300-sample hop
VOICES = ("heart",)
MALE_PITCH = -5.0

# misaki's symbols (what hibari's G2P writes) -> the platform's IPA phoneme set
_IPA = {
    "A": "eɪ",
    "I": "aɪ",
    "W": "aʊ",
    "Y": "ɔɪ",
    "O": "oʊ",
    "Q": "oʊ",
    "ʤ": "dʒ",
    "ʧ": "tʃ",
    "ᵊ": "ə",
    "T": "t",
    "g": "ɡ",
    "ɒ": "ɑ",
    "r": "ɹ",
}
_LOADED: dict[tuple[int, float], HibariTTS] = {}


def ipa_timings(symbols: Sequence[str], durations: Sequence[int], rate: int) -> list[Phoneme]:
    """Phonemes with start offsets from the model's symbols and its per-id durations.

    ``symbols`` are the characters behind the ids, without the two pads that start and end
    ``durations`` (which has ``len(symbols) + 2`` entries, in units of 600 samples).
    """
    if len(durations) != len(symbols) + 2:
        raise BackendError(
            f"hibari's duration tensor has {len(durations)} entries for {len(symbols)} "
            f"phonemes; the model is not the pinned hibari-tts {VERSION}",
            retryable=False,
        )
    samples = [int(d) * SAMPLES_PER_UNIT for d in durations]
    pieces = [("", samples[0]), *zip(symbols, samples[1:-1], strict=True), ("", samples[-1])]
    return timed_phonemes(pieces, rate, _IPA)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | 0x80 if n else low)
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def with_output(model: bytes, tensor: str) -> bytes:
    """The ONNX model with one more graph output, the intermediate ``tensor``.

    Protobuf merges a repeated occurrence of an embedded message field, so appending
    ``ModelProto.graph`` (field 7) holding one ``GraphProto.output`` (field 12) whose
    ``ValueInfoProto.name`` (field 1) is ``tensor`` adds that output without an ONNX library.
    """
    return model + _field(7, _field(12, _field(1, tensor.encode())))


def installed_version() -> str | None:
    try:
        return importlib.metadata.version("hibari-tts")
    except importlib.metadata.PackageNotFoundError:
        return None


class HibariTTS(TTSBase):
    """hibari-tts with phoneme timings. Loading takes about a second (call it at start-up)."""

    name: ClassVar[str] = "hibari"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        *,
        threads: int = 1,
        seed: int | None = None,
        timeout_s: float = 20.0,
        retries: int = 1,
    ) -> None:
        super().__init__(timeout_s=timeout_s, retries=retries)
        version = installed_version()
        if version is None:
            raise BackendError(
                f"the hibari voice needs the package hibari-tts; run: {INSTALL}", retryable=False
            )
        if version != VERSION:
            raise BackendError(
                f"hibari-tts {version} is installed, but its phoneme timings are read from an "
                f"internal tensor of version {VERSION}; run: {INSTALL}",
                retryable=False,
            )
        base = package_dir("hibari")
        if base is None:
            raise BackendError(f"package hibari is not importable; run: {INSTALL}", retryable=False)
        path = base / MODEL_FILE
        verify(path, MODEL_SHA256)
        self._session, self._vocab, self._g2p, self._synth = _load(path, threads)
        self._seed = seed
        self._lock = threading.Lock()  # the G2P and the noise generator are not thread-safe
        import numpy as np

        self._rng = np.random.default_rng(seed)

    @classmethod
    def from_settings(cls, settings: Settings) -> HibariTTS:
        """One loaded model per process and thread count, shared by every app built in it."""
        key = (settings.tts_threads, settings.tts_timeout_seconds)
        if key not in _LOADED:
            _LOADED[key] = cls(threads=settings.tts_threads, timeout_s=settings.tts_timeout_seconds)
        return _LOADED[key]

    def phonemize(self, text: str) -> list[str]:
        """The model's phoneme strings for ``text``, one per sentence."""
        with self._lock:
            return list(self._g2p(text))

    async def _synthesize(self, text: str, voice: VoiceSpec) -> AsyncGenerator[SpeechChunk, None]:
        # One voice is bundled: any name (a hosted platform's base name too) speaks with it.
        for sentence in await asyncio.to_thread(self.phonemize, text):
            yield await asyncio.to_thread(self.render, sentence, voice)

    def render(self, phonemes: str, voice: VoiceSpec) -> SpeechChunk:
        """One sentence of phonemes -> speech (blocking)."""
        import numpy as np

        symbols = [c for c in phonemes if c in self._vocab]
        if not symbols:
            return SpeechChunk(b"", self.sample_rate)
        ids = [0, *(self._vocab[c] for c in symbols), 0]
        speed = min(2.0, max(0.5, voice.speed or 1.0))
        try:
            *spectra, f0, durations = self._session.run(
                None,
                {"ids": np.asarray([ids], np.int64), "speed": np.asarray([speed], np.float32)},
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise BackendError(f"hibari failed: {exc}", retryable=False) from exc
        pitch = voice.pitch + (MALE_PITCH if voice.gender == "male" else 0.0)
        f0 = f0[0] * (2.0 ** (max(-12.0, min(12.0, pitch)) / 12.0))
        with self._lock:
            audio = self._synth(*(s[0] for s in spectra), f0, self._rng)
        pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        timings = ipa_timings(symbols, [int(d) for d in durations], self.sample_rate)
        return SpeechChunk(pcm, self.sample_rate, tuple(timings))


def _load(path: Path, threads: int) -> tuple[Any, dict[str, int], Any, Callable[..., Any]]:
    try:
        import onnxruntime as ort
        from hibari import dsp
        from hibari.g2p import G2P
        from hibari.tts import Hibari
    except ImportError as exc:
        raise BackendError(f"hibari could not be imported ({exc}); run: {INSTALL}") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            with_output(path.read_bytes(), DURATIONS_TENSOR),
            options,
            providers=["CPUExecutionProvider"],
        )
    except Exception as exc:
        raise BackendError(f"hibari's model could not be loaded: {exc}", retryable=False) from exc
    if [o.name for o in session.get_outputs()][-1] != DURATIONS_TENSOR:
        raise BackendError(f"hibari's model has no tensor {DURATIONS_TENSOR}", retryable=False)
    g2p = G2P(british=False)
    splitter = Hibari.split_sentences

    def sentences(text: str) -> list[str]:
        return [ps for s in splitter(text) if (ps := g2p(s))]

    import json

    vocab = json.loads((path.parent / "vocab.json").read_text("utf-8"))
    return session, vocab, sentences, dsp.synth
