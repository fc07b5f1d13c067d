"""Voice activity detection for the open microphone: is this frame speech?

    silero   Silero VAD v6 (MIT), the ONNX file shipped inside faster-whisper 1.2.1
             (``faster_whisper/assets/silero_vad_v6.onnx``, sha256 pinned), run with
             onnxruntime; 32 ms frames, under 1 ms each. Rejects steady noise. The default.
    webrtc   the WebRTC detector (``webrtcvad-wheels``); 30 ms frames, microseconds each,
             but it takes loud broadband noise for speech.

Each audio session gets its own detector (``VoiceDetectors.new()``): Silero carries state
from frame to frame. The rules that turn frame decisions into utterances live in
``anima.domain.audio_session.Endpointer``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from anima.backends.models import package_dir, verify
from anima.domain.audio_session import SAMPLE_RATE
from anima.errors import BackendError, InvalidArgument

SILERO_FILE = "assets/silero_vad_v6.onnx"
SILERO_SHA256 = "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2"
_INSTALL = "pip install faster-whisper==1.2.1"


class VoiceDetector(Protocol):
    frame_samples: int

    def is_speech(self, frame: bytes) -> bool:
        """Whether one frame (``frame_samples`` of 16 kHz mono 16-bit PCM) holds speech."""
        ...


class VoiceDetectors(Protocol):
    def new(self) -> VoiceDetector: ...


class WebRtcVad:
    frame_samples = SAMPLE_RATE * 30 // 1000

    def __init__(self, aggressiveness: int = 3) -> None:
        try:
            import webrtcvad
        except ModuleNotFoundError as exc:
            raise BackendError(
                "the webrtc voice detector needs webrtcvad: "
                "pip install webrtcvad-wheels==2.0.14.post1",
                retryable=False,
            ) from exc
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: bytes) -> bool:
        return bool(self._vad.is_speech(frame, SAMPLE_RATE))


class WebRtcDetectors:
    def __init__(self, aggressiveness: int = 3) -> None:
        self.aggressiveness = aggressiveness
        WebRtcVad(aggressiveness)  # fail at start-up, not on the first word

    def new(self) -> VoiceDetector:
        return WebRtcVad(self.aggressiveness)


class SileroVad:
    """One stream's Silero state (LSTM h/c and 64 samples of context) over a shared model."""

    frame_samples = 512
    _CONTEXT = 64

    def __init__(self, session: Any, threshold: float) -> None:
        self._session = session
        self.threshold = threshold
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(self._CONTEXT, dtype=np.float32)

    def probability(self, frame: bytes) -> float:
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        x = np.concatenate([self._context, samples])[None, :]
        out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = samples[-self._CONTEXT :]
        return float(np.asarray(out).reshape(-1)[0])

    def is_speech(self, frame: bytes) -> bool:
        return self.probability(frame) >= self.threshold


class SileroDetectors:
    def __init__(self, threshold: float = 0.5) -> None:
        base = package_dir("faster_whisper")
        if base is None:
            raise BackendError(
                f"the silero voice detector's model comes with faster-whisper: {_INSTALL}",
                retryable=False,
            )
        path = base / SILERO_FILE
        verify(path, SILERO_SHA256)
        self.threshold = threshold
        self._session = _onnx_session(path)

    def new(self) -> VoiceDetector:
        return SileroVad(self._session, self.threshold)


_sessions: dict[str, Any] = {}
_lock = threading.Lock()


def _onnx_session(path: Path) -> Any:
    import onnxruntime

    with _lock:
        if str(path) not in _sessions:
            options = onnxruntime.SessionOptions()
            options.inter_op_num_threads = 1
            options.intra_op_num_threads = 1
            options.log_severity_level = 4
            _sessions[str(path)] = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"], sess_options=options
            )
        return _sessions[str(path)]


def create_detectors(
    name: str, *, aggressiveness: int = 3, threshold: float = 0.5
) -> VoiceDetectors:
    """The voice detector named by ``ANIMA_STT_VAD`` (silero | webrtc)."""
    if name == "silero":
        return SileroDetectors(threshold)
    if name == "webrtc":
        return WebRtcDetectors(aggressiveness)
    raise InvalidArgument(f"unknown stt_vad {name!r}: use silero or webrtc", field="stt_vad")
