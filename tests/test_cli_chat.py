"""`anima chat`: the local engine loop with the scripted backend, and the REST client."""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anima.chat import chat_local, chat_remote, load_character
from anima.cli import main
from anima.errors import InvalidArgument
from anima.settings import Settings


def reader(lines: list[str]) -> object:
    it: Iterator[str] = iter(lines)

    def read(_prompt: str) -> str:
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return read


async def test_local_chat_streams_replies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path, llm_backend="scripted")
    code = await chat_local(settings, None, "Ann", read=reader(["Hello", "/quit", "never"]))  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert code == 0
    assert "Talking to Brenna" in out
    assert "Brenna: Well met, Ann!" in out
    assert "never" not in out


def test_character_file_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "c.json"
    good.write_text(json.dumps({"defaultCharacterDescription": {"givenName": "Axeon"}}))
    assert load_character(good).description.given_name == "Axeon"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"defaultCharacterDescription": {"pronoun": "PRONOUN_NOPE"}}))
    with pytest.raises(InvalidArgument):
        load_character(bad)


async def test_remote_chat_uses_simple_send_text(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/workspaces/ws/characters/axeon:simpleSendText"
        assert request.headers["authorization"] == "Basic a2V5OnNlY3JldA=="
        body = json.loads(request.content)
        seen.append(body)
        return httpx.Response(200, json={"textList": ["Hi", "there."], "sessionId": "ws:s1"})

    code = await chat_remote(
        "http://anima.test",
        "ws",
        "axeon",
        "a2V5OnNlY3JldA==",
        "Ann",
        read=reader(["one", "two"]),  # type: ignore[arg-type]
        transport=httpx.MockTransport(handle),
    )
    assert code == 0
    assert [b["sessionId"] for b in seen] == ["", "ws:s1"]
    assert seen[0]["character"] == "workspaces/ws/characters/axeon"
    assert "axeon: Hi there." in capsys.readouterr().out


def test_remote_chat_needs_a_character_and_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat"]) == 2
    assert "--character" in capsys.readouterr().err


def _fake_player(tmp_path: Path) -> list[str]:
    """A stand-in for aplay: keeps a copy of each file it is asked to play."""
    script = tmp_path / "player.sh"
    script.write_text(
        f'#!/bin/sh\nn=$(ls {tmp_path}/played-* 2>/dev/null | wc -l)\ncp "$1" {tmp_path}/played-$n.wav\n'
    )
    script.chmod(0o755)
    return [str(script)]


def _played(tmp_path: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(tmp_path.glob("played-*.wav"))]


async def test_local_chat_speaks_each_reply(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, llm_backend="scripted", tts_backend="scripted")
    player = _fake_player(tmp_path)
    code = await chat_local(
        settings,
        None,
        "Ann",
        read=reader(["Hello", "Again"]),
        voice_player=player,  # type: ignore[arg-type]
    )
    assert code == 0
    played = _played(tmp_path)
    assert len(played) == 2
    with wave.open(io.BytesIO(played[0])) as w:
        assert w.getnframes() > 0


async def test_remote_chat_speaks_through_the_synthesize_route(tmp_path: Path) -> None:
    wav = io.BytesIO()
    with wave.open(wav, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\1" * 1600)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(":synthesize"):
            assert json.loads(request.content) == {"text": "Hi there."}
            return httpx.Response(200, json={"audio": base64.b64encode(wav.getvalue()).decode()})
        return httpx.Response(200, json={"textList": ["Hi", "there."], "sessionId": "ws:s1"})

    code = await chat_remote(
        "http://x",
        "ws",
        "axeon",
        "a2V5OnNlY3JldA==",
        "Ann",
        read=reader(["Hello"]),  # type: ignore[arg-type]
        transport=httpx.MockTransport(handle),
        voice_player=_fake_player(tmp_path),
    )
    assert code == 0
    assert _played(tmp_path) == [wav.getvalue()]


def test_voice_without_a_player_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    code = main(["chat", "--local", "--llm-backend", "scripted", "--voice"])
    assert code != 0
    assert "audio player" in capsys.readouterr().err
