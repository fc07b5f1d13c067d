"""``anima chat``: talk to a character from the terminal.

Two ways:

- ``--local``: an in-process engine. Loads a character JSON file (the Studio Character shape)
  or a built-in demo persona, and runs the turn pipeline directly with the configured language
  model, printing each sentence as soon as the model finishes it. History stays in memory.
- otherwise: a running server, through the engine API's ``simpleSendText`` with a workspace
  key (``Authorization: Basic ...``), keeping the returned ``sessionId`` between lines.

Type ``/quit`` (or Ctrl-D) to leave.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from anima.domain.character import Character, parse_character
from anima.domain.events import NarratedAction, Utterance
from anima.domain.prompt import Line, Speaker
from anima.domain.session import Player
from anima.errors import AnimaError, BackendError, InvalidArgument
from anima.settings import Settings

DEMO_CHARACTER: dict[str, Any] = {
    "defaultCharacterDescription": {
        "givenName": "Brenna",
        "pronoun": "PRONOUN_FEMALE",
        "characterRole": "the innkeeper of the Crooked Kettle",
        "lifeStage": "LIFE_STAGE_MIDDLE_ADULTHOOD",
        "description": "Brenna runs a busy inn at a crossroads. She knows every traveller's "
        "gossip and serves the best stew in the valley.",
        "motivation": "Keep her inn warm, safe and full of stories.",
        "flaws": "Nosy, and she cannot keep a secret.",
        "personalityAdjectives": ["warm", "witty", "curious"],
        "hobbyOrInterests": ["cooking", "old ballads"],
        "exampleDialogStyle": "EXAMPLE_DIALOG_STYLE_BUBBLY",
        "exampleDialog": "{player}: Any news?\n{character}: Oh, plenty! Sit down, love, "
        "and I'll pour you a cup.",
        "dialogResponseLength": "DIALOG_RESPONSE_LENGTH_MEDIUM",
        "narrativeActionsEnabled": True,
    },
    "personality": {"positive": 60, "peaceful": 50, "open": 40, "extravert": 70},
}

Reader = Callable[[str], str]


def load_character(path: Path | None) -> Character:
    if path is None:
        return Character.model_validate(DEMO_CHARACTER)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"cannot read character file {path}: {exc}") from exc
    return parse_character(data)


def _lines(read: Reader, prompt: str) -> Any:
    while True:
        try:
            text = read(prompt)
        except EOFError:
            return
        if text.strip() in {"/quit", "/exit"}:
            return
        if text.strip():
            yield text.strip()


async def chat_local(
    settings: Settings,
    character_file: Path | None,
    player_name: str,
    read: Reader = input,
    voice_player: list[str] | None = None,
) -> int:
    from anima.backends.registry import create_llm
    from anima.pipeline.turn import TurnContext, TurnRequest, run_turn

    character = load_character(character_file)
    say = await _local_voice(settings, character) if voice_player is not None else None
    llm = await asyncio.to_thread(create_llm, settings)
    name = character.description.name_or_default
    ctx = TurnContext(
        llm=llm,
        character=character,
        agent_id=str(uuid.uuid4()),
        player=Player(given_name=player_name),
        max_tokens_cap=settings.llm_max_tokens,
        history_token_budget=settings.llm_context_tokens // 3,
    )
    print(f"Talking to {name} ({settings.llm_backend}). /quit to leave.", flush=True)
    history: tuple[Line, ...] = ()
    try:
        for text in _lines(read, f"{player_name}> "):
            said: list[str] = []
            deflected = False
            print(f"{name}:", end="", flush=True)
            try:
                async for event in run_turn(ctx, TurnRequest(str(uuid.uuid4()), text, history)):
                    if isinstance(event, Utterance):
                        said.append(event.text)
                        deflected = deflected or event.fallback
                        print(f" {event.text}", end="", flush=True)
                    elif isinstance(event, NarratedAction):
                        said.append(f"*{event.text}*")
                        print(f" *{event.text}*", end="", flush=True)
            except AnimaError as exc:
                print(f"\n[error: {exc.message}{' (retry)' if exc.retryable else ''}]")
                continue
            print(flush=True)
            spoken = " ".join(s for s in said if not s.startswith("*"))
            if say is not None and voice_player is not None and spoken:
                await _speak(say(spoken), voice_player)
            reply = Line(Speaker.CHARACTER, " ".join(said), fallback=deflected)
            history += (Line(Speaker.PLAYER, text), reply)
    finally:
        await llm.aclose()
    return 0


Say = Callable[[str], Awaitable[bytes]]


async def _local_voice(settings: Settings, character: Character) -> Say:
    """The configured voice (the embedded one when speech is off), speaking as ``character``."""
    from anima.backends.tts_registry import create_tts
    from anima.pipeline.voice import speak, voice_of
    from anima.wire.packets import as_wav

    if settings.tts_backend == "off":
        settings = settings.model_copy(update={"tts_backend": "hibari"})
    tts = await asyncio.to_thread(create_tts, settings)
    assert tts is not None
    voice = voice_of(character)

    async def say(text: str) -> bytes:
        chunks = await speak(tts, text, voice)
        return as_wav(b"".join(c.pcm for c in chunks), chunks[0].sample_rate) if chunks else b""

    return say


async def _speak(wav: Awaitable[bytes], player: list[str]) -> None:
    from anima.voice_player import play

    try:
        data = await wav
    except AnimaError as exc:
        print(f"[no voice: {exc.message}]", file=sys.stderr)
        return
    if data:
        await asyncio.to_thread(play, data, player)


def _authorization(key: str) -> str:
    key = key.strip()
    return key if key.lower().startswith("basic ") else f"Basic {key}"


async def chat_remote(
    url: str,
    workspace: str,
    character: str,
    key: str,
    player_name: str,
    read: Reader = input,
    transport: httpx.AsyncBaseTransport | None = None,
    voice_player: list[str] | None = None,
) -> int:
    endpoint = f"{url.rstrip('/')}/v1/workspaces/{workspace}/characters/{character}:simpleSendText"
    session_id = ""
    headers = {"Authorization": _authorization(key)}
    async with httpx.AsyncClient(headers=headers, timeout=120, transport=transport) as client:
        print(f"Talking to {character} at {url}. /quit to leave.", flush=True)
        for text in _lines(read, f"{player_name}> "):
            body = {
                "character": f"workspaces/{workspace}/characters/{character}",
                "text": text,
                "sessionId": session_id,
                "endUserFullname": player_name,
            }
            try:
                response = await client.post(endpoint, json=body)
            except httpx.HTTPError as exc:
                print(f"[cannot reach {url}: {exc}]", file=sys.stderr)
                return 1
            data = response.json() if response.content else {}
            if response.status_code != 200:
                err = data.get("error", {}) if isinstance(data, dict) else {}
                print(f"[{response.status_code} {err.get('status', '')}: {err.get('message', '')}]")
                if response.status_code in (401, 403, 404):
                    return 1
                continue
            session_id = data.get("sessionId", session_id)
            print(f"{character}: {' '.join(data.get('textList', []))}", flush=True)
            line = " ".join(data.get("textList", []))
            if voice_player is not None and line.strip():
                wav = _remote_voice(
                    client, endpoint.replace(":simpleSendText", ":synthesize"), line
                )
                await _speak(wav, voice_player)
    return 0


async def _remote_voice(client: httpx.AsyncClient, endpoint: str, text: str) -> bytes:
    """The line in the character's voice, from the server's ``:synthesize`` route."""
    try:
        response = await client.post(endpoint, json={"text": text})
    except httpx.HTTPError as exc:
        raise BackendError(f"cannot reach the server for speech: {exc}") from exc
    data = response.json() if response.content else {}
    if response.status_code != 200:
        message = data.get("error", {}).get("message", "") if isinstance(data, dict) else ""
        raise BackendError(f"{response.status_code}: {message}", retryable=False)
    return base64.b64decode(data["audio"])
