"""Every free-text field has a length limit (a 400 naming it), and where the schema says string
or bool nothing else is taken (issue 13, item 5)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import text as sql

from anima.api.session_state import parse_feedback
from anima.backends.scripted import ScriptedLLM
from anima.errors import InvalidArgument
from anima.settings import Settings
from anima.wire.inputs import decode_json
from tests.api.engine_helpers import V1, Game
from tests.api.studio_helpers import BASE, bad_request, open_studio
from tests.api.websocket_helpers import Rig, configuration, is_control, open_rig


@pytest.fixture
async def game(settings: Settings) -> AsyncIterator[Game]:
    async with open_studio(settings) as studio:
        g = Game(studio.app, studio.client, studio.headers)
        g.use_llm(ScriptedLLM(["Hello."]))
        yield g


async def test_a_100_kb_end_user_fullname_is_refused_naming_the_limit(game: Game) -> None:
    character = await game.character()
    body = {"text": "hi", "endUserFullname": "x" * 100_000}
    r = await game.call("POST", f"{V1}/characters/{character}:simpleSendText", json=body)
    assert "at most 200 characters" in bad_request(r, "endUserFullname")
    r = await game.call(
        "GET",
        f"{V1}/characters/{character}:simpleSendText",
        params={"text": "hi", "endUserId": "u" * 201},
    )
    assert "200" in bad_request(r, "endUserId")


@pytest.mark.parametrize(
    ("body", "field", "limit"),
    [
        ({"user": {"givenName": "y" * 201}}, "user.givenName", "200"),
        ({"user": {"role": "r" * 201}}, "user.role", "200"),
        ({"name": "n" * 401}, "name", "400"),
    ],
)
async def test_open_session_fields_have_limits(
    game: Game, body: dict[str, Any], field: str, limit: str
) -> None:
    character = await game.character()
    r = await game.call("POST", f"{V1}/characters/{character}:openSession", json=body)
    assert limit in bad_request(r, field)


async def test_trigger_parameters_have_limits_and_are_strings(game: Game) -> None:
    character = await game.character()
    session = await game.open(character)
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]
    url = f"{V1}/sessions/{sid}/sessionCharacters/{agent}:sendTrigger"
    headers = {"Grpc-Metadata-session-id": sid}

    def trigger(*parameters: dict[str, Any]) -> dict[str, Any]:
        event = {"trigger": "workspaces/ws1/triggers/wave", "parameters": list(parameters)}
        return {"triggerEvent": event}

    r = await game.call(
        "POST", url, json=trigger({"name": "n", "value": "v" * 2001}), headers=headers
    )
    assert "2000" in bad_request(r, "triggerEvent.parameters.0.value")
    r = await game.call("POST", url, json=trigger({"name": "n", "value": 5}), headers=headers)
    bad_request(r, "triggerEvent.parameters.0.value")
    many = [{"name": f"p{i}", "value": ""} for i in range(65)]
    r = await game.call("POST", url, json=trigger(*many), headers=headers)
    bad_request(r, "triggerEvent.parameters")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"defaultCharacterDescription": {"givenName": "g" * 101}}, "givenName", "at most 100"),
        ({"defaultCharacterDescription": {"description": "d" * 3001}}, "description", "3000"),
        ({"defaultCharacterDescription": {"motivation": "m" * 1001}}, "motivation", "1000"),
        ({"defaultCharacterDescription": {"exampleDialog": "e" * 2001}}, "exampleDialog", "2000"),
        ({"defaultCharacterDescription": {"nicknames": ["a"] * 101}}, "nicknames", "100 are"),
        ({"defaultCharacterAssets": {"avatarImg": "u" * 2049}}, "avatarImg", "2048"),
        ({"yamlConfig": "y" * 65_537}, "yamlConfig", "65536"),
        ({"commonKnowledge": ["k" * 401]}, "commonKnowledge[0]", "400"),
        ({"defaultCharacterDescription": {"narrativeActionsEnabled": "yes"}}, "", "boolean"),
        ({"relationship": {"enabled": 1}}, "relationship.enabled", "boolean"),
        ({"defaultCharacterDescription": {"givenName": 7}}, "givenName", "string"),
    ],
)
async def test_character_text_has_limits_and_types_are_strict(
    game: Game, body: dict[str, Any], field: str, message: str
) -> None:
    r = await game.call("POST", f"{BASE}/characters", json=body)
    error = bad_request(r)
    assert field in error
    assert message in error


@pytest.mark.parametrize(
    ("collection", "body", "field"),
    [
        ("scenes", {"displayName": "s" * 101}, "displayName"),
        ("scenes", {"description": "s" * 3001}, "description"),
        ("scenes", {"characters": [{"characterDescription": "c" * 3001}]}, "characters[0]"),
        ("common-knowledge", {"displayName": "k" * 101}, "displayName"),
        ("common-knowledge", {"description": "k" * 3001}, "description"),
    ],
)
async def test_scene_and_knowledge_text_has_limits(
    game: Game, collection: str, body: dict[str, Any], field: str
) -> None:
    r = await game.call("POST", f"{BASE}/{collection}", json=body)
    assert "too long" in bad_request(r)
    assert field in bad_request(r)


async def test_text_stored_before_the_limits_still_reads(game: Game) -> None:
    created = await game.create({"displayName": "Old scene"}, "scenes")
    long = "d" * 5000
    async with game.store.session() as s:
        await s.execute(
            sql("UPDATE scenes SET data = :data"),
            {"data": json.dumps({**created, "description": long})},
        )
    got = await game.ok("GET", f"/studio/v1/{created['name']}")
    assert got["description"] == long
    assert (await game.ok("GET", f"{BASE}/scenes"))["scenes"][0]["description"] == long


# -- the streaming faces -----------------------------------------------------------------------


def test_a_streaming_player_name_has_the_same_limit() -> None:
    frame = configuration(user={"name": "x" * 201})
    with pytest.raises(InvalidArgument, match="at most 200"):
        decode_json(json.dumps(frame))


@pytest.fixture
def rig(settings: Settings) -> Iterator[Rig]:
    with open_rig(settings) as r:
        r.use_llm(ScriptedLLM(["Still here."]))
        yield r


def test_a_websocket_player_name_over_the_limit_is_a_warning(rig: Rig) -> None:
    alice = rig.character("Alice")
    with rig.connect() as sock:
        sock.handshake(alice)
        sock.send(configuration(user={"name": "x" * 100_000}))
        warning = sock.until(is_control("WARNING"))[-1]
        assert "at most 200" in warning["result"]["control"]["description"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"comment": "c" * 4001}, "comment"),
        ({"isLike": "yes"}, "isLike"),
        ({"isLike": 1}, "isLike"),
        ({"type": [3]}, "type.0"),
    ],
)
def test_feedback_from_either_face_is_limited_and_strict(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_feedback(raw)
    assert caught.value.field == field
