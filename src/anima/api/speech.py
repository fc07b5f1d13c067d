"""``POST /v1/workspaces/{ws}/characters/{character}:synthesize``: a character's line as audio.

For games that pre-render barks: the line is spoken in the deployed character's voice
(``defaultCharacterAssets.voice``, mapped by pipeline/voice.py) by the server's TTS backend,
and comes back as one WAV file (16-bit mono PCM, base64) with its phoneme timings (offsets in
seconds from the start of the file, in the platform's IPA phoneme set, "sil" for pauses).
The REST turn routes stay text-only; this route does not run the character's brain.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from anima.api.auth import RuntimeKey
from anima.api.checked import CheckedRoute
from anima.errors import FailedPrecondition, InvalidArgument, NotFound
from anima.pipeline.voice import Speech, speak, voice_of
from anima.wire.packets import as_wav
from anima.wire.schemas import ERRORS, ok

MAX_LINE_CHARS = 1000

router = APIRouter(tags=["engine"], route_class=CheckedRoute, responses=ERRORS)


class SynthesizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: Annotated[StrictStr, Field(max_length=MAX_LINE_CHARS)] = ""


class PhonemeTiming(BaseModel):
    phoneme: str
    start_offset: str = Field(alias="startOffset", description='seconds, e.g. "0.125s"')


class SynthesizedSpeech(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    audio: str = Field(description="a complete WAV file (16-bit mono PCM), base64")
    audio_format: str = Field(alias="audioFormat", description="WAV_PCM_16")
    sample_rate: int = Field(alias="sampleRate")
    duration: str = Field(description='seconds, e.g. "2.150s"')
    phonemes: list[PhonemeTiming] = Field(alias="additionalPhonemeInfo")


def _seconds(value: float) -> str:
    return f"{value:.3f}s"


@router.post(
    "/v1/workspaces/{ws}/characters/{character}:synthesize",
    summary="A character's line as speech (WAV) with phoneme timings, for pre-rendered lines",
    **ok(SynthesizedSpeech),
)
async def synthesize(
    ws: str, character: str, body: SynthesizeRequest, _key: RuntimeKey, request: Request
) -> dict[str, Any]:
    speech: Speech | None = request.app.state.anima.speech
    if speech is None:
        raise FailedPrecondition(
            "text-to-speech is off on this server; start it with ANIMA_TTS_BACKEND=hibari "
            "(or espeak, openai...) to synthesize lines"
        )
    text = body.text.strip()
    if not any(c.isalnum() for c in text):
        raise InvalidArgument("text must contain words to speak", field="text")
    deployed = await request.app.state.anima.store.characters.get_deployed(ws, character)
    if deployed is None:
        raise NotFound(
            f"character 'workspaces/{ws}/characters/{character}' does not exist or is not deployed"
        )
    chunks = await speak(speech.tts, text, voice_of(deployed.character))
    rate = chunks[0].sample_rate
    offset = 0.0
    phonemes: list[dict[str, str]] = []
    for chunk in chunks:
        phonemes += [
            {"phoneme": p.symbol, "startOffset": _seconds(offset + p.start)} for p in chunk.phonemes
        ]
        offset += chunk.duration
    pcm = b"".join(chunk.pcm for chunk in chunks)
    return {
        "audio": base64.b64encode(as_wav(pcm, rate)).decode("ascii"),
        "audioFormat": "WAV_PCM_16",
        "sampleRate": rate,
        "duration": _seconds(offset),
        "additionalPhonemeInfo": phonemes,
    }
