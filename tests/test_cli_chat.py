"""`anima chat`: the local engine loop with the scripted backend, and the REST client."""

from __future__ import annotations

import json
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
