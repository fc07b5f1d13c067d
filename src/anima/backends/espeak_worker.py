"""The espeak-ng speaker process: ``python -m anima.backends.espeak_worker``.

libespeak-ng (GPL-3.0) is loaded here, in a process of its own, never in the server's. One
request per line on stdin, JSON ``{"text", "voice", "rate", "pitch"}``; per request, one JSON
line on stdout ``{"sample_rate", "bytes", "phonemes": [[ipa, seconds], ...]}`` or
``{"error": ...}``, followed by that many bytes of 16-bit mono PCM. Phonemes come from
libespeak-ng's phoneme events (IPA, with their position in the audio).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import sys
from typing import Any

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
INITIALIZE_PHONEME_IPA = 0x0002
CHARS_UTF8 = 1
POS_CHARACTER = 1
EVENT_PHONEME = 7
RATE, PITCH = 1, 3


class _Id(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Id),
    )


Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(Event)
)


def load() -> Any:
    path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    return ctypes.CDLL(path)


def main() -> int:
    try:
        lib = load()
    except OSError as exc:
        sys.stdout.write(json.dumps({"error": f"libespeak-ng not found: {exc}"}) + "\n")
        return 1
    rate = lib.espeak_Initialize(
        AUDIO_OUTPUT_SYNCHRONOUS, 0, None, INITIALIZE_PHONEME_EVENTS | INITIALIZE_PHONEME_IPA
    )
    if rate <= 0:
        sys.stdout.write(json.dumps({"error": "espeak_Initialize failed"}) + "\n")
        return 1
    pcm = bytearray()
    phonemes: list[tuple[str, float]] = []

    def on_audio(wav: Any, samples: int, events: Any) -> int:
        if samples > 0:
            pcm.extend(ctypes.string_at(wav, samples * 2))
        i = 0
        while events[i].type != 0:
            e = events[i]
            if e.type == EVENT_PHONEME:
                name = e.id.string.decode("utf-8", "replace").strip()
                if name:
                    phonemes.append((name, e.audio_position / 1000))
            i += 1
        return 0

    callback = Callback(on_audio)
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        pcm.clear()
        phonemes.clear()
        if lib.espeak_SetVoiceByName(request["voice"].encode()) != 0:
            answer: dict[str, Any] = {"error": f"espeak-ng has no voice {request['voice']!r}"}
            out.write(json.dumps(answer).encode() + b"\n")
            out.flush()
            continue
        lib.espeak_SetParameter(RATE, int(request["rate"]), 0)
        lib.espeak_SetParameter(PITCH, int(request["pitch"]), 0)
        text = request["text"].encode("utf-8") + b"\0"
        lib.espeak_Synth(text, len(text), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        answer = {"sample_rate": rate, "bytes": len(pcm), "phonemes": phonemes}
        out.write(json.dumps(answer).encode() + b"\n" + bytes(pcm))
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
