"""Engine REST API over durable sessions, with the scripted LLM (the engine's own behaviour)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from anima.backends.scripted import Reply, ScriptedLLM
from anima.domain.credentials import Scope
from anima.errors import BackendError
from anima.settings import Settings
from tests.api.engine_helpers import V1, Game, open_game
from tests.conftest import make_key


@pytest.fixture
async def game(db_settings: Settings) -> AsyncIterator[Game]:
    async with open_game(db_settings) as g:
        yield g


def _error(r: Any, code: int, status: str) -> str:
    assert r.status_code == code, r.text
    assert r.json()["error"]["status"] == status
    message: str = r.json()["error"]["message"]
    return message


async def test_open_session_shape(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(
        tony,
        {
            "endUserId": "12345",
            "givenName": "Sherlock",
            "gender": "female",
            "age": "27",
            "role": "detective",
        },
    )
    assert session["name"].startswith("ws1:")
    assert session["loadedScene"] == f"workspaces/ws1/characters/{tony}"
    [sc] = session["sessionCharacters"]
    assert sc["name"] == f"workspaces/ws1/characters/{tony}"
    assert sc["displayName"] == "Tony"
    assert sc["characterAssets"] == {"avatarImg": "", "avatarImgOriginal": ""}
    assert len(sc["character"]) == 36  # the per-session agent id (a UUID)


async def test_send_text_interaction_shape_and_history(game: Game) -> None:
    game.use_llm(ScriptedLLM(["Hello there, {player}. Fine weather!", "The ferry leaves at noon."]))
    tony = await game.character("Tony")
    session = await game.open(tony, {"givenName": "Sherlock"})
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]

    r = await game.send_text(sid, agent, "hello there")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "name",
        "textList",
        "emotion",
        "sessionId",
        "relationshipUpdate",
        "activeTriggers",
    }
    assert body["name"].startswith(f"workspaces/ws1/sessions/{sid}/interactions/")
    assert body["sessionId"] == sid
    assert body["textList"] == ["Hello there, Sherlock.", "Fine weather!"]
    assert body["emotion"]["behavior"] in {"NEUTRAL", "JOY", "INTEREST", "SURPRISE", "AFFECTION"}
    assert body["emotion"]["strength"] in {"WEAK", "NORMAL", "STRONG"}
    assert body["relationshipUpdate"] == {
        "trust": 0,
        "respect": 0,
        "familiar": 0,
        "flirtatious": 0,
        "attraction": 0,
    }
    assert body["activeTriggers"] == []

    r2 = await game.send_text(sid, agent, "when does it leave?")
    assert r2.json()["textList"] == ["The ferry leaves at noon."]
    second_prompt = game.llm.prompts[-1]
    rendered = str(second_prompt)
    assert "hello there" in rendered, "history reaches the prompt"
    assert "Fine weather!" in rendered

    stored = await game.store.sessions.history(sid)
    assert [i.input_text for i in stored] == ["hello there", "when does it leave?"]


async def test_send_trigger(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]
    r = await game.send_trigger(
        sid, agent, "workspaces/ws1/triggers/test", [{"name": "place", "value": "California"}]
    )
    assert r.status_code == 200, r.text
    assert r.json()["textList"]
    prompt = str(game.llm.prompts[-1])
    assert "test" in prompt
    assert "California" in prompt
    [stored] = await game.store.sessions.history(sid)
    assert stored.input_kind == "trigger"
    assert stored.parameters == (("place", "California"),)


async def test_simple_send_text_post_and_get(game: Game) -> None:
    tony = await game.character("Tony")
    path = f"{V1}/characters/{tony}:simpleSendText"
    first = await game.ok(
        "POST",
        path,
        json={
            "character": f"workspaces/ws1/characters/{tony}",
            "text": "hello there!",
            "endUserFullname": "Tom",
            "endUserId": "12345",
        },
    )
    sid = first["sessionId"]
    assert sid.startswith("ws1:")
    again = await game.ok("POST", path, json={"text": "and again", "session_id": sid})
    assert again["sessionId"] == sid, "snake_case accepted; the session continues"
    via_get = await game.ok("GET", path, params={"text": "by GET", "sessionId": sid})
    assert via_get["sessionId"] == sid
    assert len(await game.store.sessions.history(sid)) == 3
    player = (await game.store.sessions.get(sid)).player  # type: ignore[union-attr]
    assert player.full_name == "Tom"
    assert player.end_user_id == "12345"


async def test_simple_send_text_unknown_or_expired_session_opens_a_new_one(game: Game) -> None:
    tony = await game.character("Tony")
    path = f"{V1}/characters/{tony}:simpleSendText"
    unknown = await game.ok("POST", path, json={"text": "hi", "sessionId": "ws1:nope"})
    assert unknown["sessionId"] != "ws1:nope"
    sid = unknown["sessionId"]
    clock = [game.engine.clock()]
    game.engine.clock = lambda: clock[0]
    clock[0] += game.engine.settings.session_ttl_seconds + 1
    fresh = await game.ok("POST", path, json={"text": "hi again", "sessionId": sid})
    assert fresh["sessionId"] != sid
    assert len(await game.store.sessions.history(fresh["sessionId"])) == 1


async def test_expiry_with_injected_clock(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]
    now = [game.engine.clock()]
    game.engine.clock = lambda: now[0]
    now[0] += game.engine.settings.session_ttl_seconds - 5
    assert (await game.send_text(sid, agent, "still there?")).status_code == 200
    now[0] += game.engine.settings.session_ttl_seconds - 5  # activity moved the deadline
    assert (await game.send_text(sid, agent, "and now?")).status_code == 200
    now[0] += game.engine.settings.session_ttl_seconds + 1
    _error(await game.send_text(sid, agent, "hello?"), 404, "NOT_FOUND")
    _error(await game.send_trigger(sid, agent, "workspaces/ws1/triggers/t"), 404, "NOT_FOUND")


async def test_sessions_survive_a_restart(db_settings: Settings) -> None:
    async with open_game(db_settings) as g:
        g.use_llm(ScriptedLLM(["First answer."]))
        tony = await g.character("Tony")
        session = await g.open(tony, {"givenName": "Ada"})
        sid, agent = session["name"], session["sessionCharacters"][0]["character"]
        assert (await g.send_text(sid, agent, "remember the password swordfish")).status_code == 200
    async with open_game(db_settings) as g2:
        g2.use_llm(ScriptedLLM(["Second answer."]))
        r = await g2.send_text(sid, agent, "what was the password?")
        assert r.status_code == 200, r.text
        assert r.json()["textList"] == ["Second answer."]
        assert "swordfish" in str(g2.llm.prompts[-1])
        assert "Ada" in str(g2.llm.prompts[-1])


async def test_parallel_sessions_and_serialised_turns_on_one(game: Game) -> None:
    # every reply different: the guards cut a reply that repeats one of the last ones
    game.use_llm(ScriptedLLM([f"Reply {i} here." for i in range(100)], chunk_delay_s=0.002))
    tony = await game.character("Tony")
    sessions = [await game.open(tony) for _ in range(20)]
    results = await asyncio.gather(
        *(
            game.send_text(s["name"], s["sessionCharacters"][0]["character"], f"hi {i}")
            for i, s in enumerate(sessions)
        )
    )
    assert all(r.status_code == 200 for r in results)
    assert {r.json()["sessionId"] for r in results} == {s["name"] for s in sessions}

    sid, agent = sessions[0]["name"], sessions[0]["sessionCharacters"][0]["character"]
    before = len(game.llm.prompts)
    same = await asyncio.gather(*(game.send_text(sid, agent, f"line {i}") for i in range(6)))
    assert all(r.status_code == 200 for r in same)
    history = await game.store.sessions.history(sid)
    assert [i.seq for i in history] == list(range(7))
    # Serialised: each turn's prompt saw every earlier turn of the session, never interleaved.
    seen = [str(p).count("here.'") for p in game.llm.prompts[before:]]
    assert sorted(seen) == list(range(1, 7))


async def test_scene_session_addresses_one_character(game: Game) -> None:
    tony = await game.character("Tony")
    anna = await game.character("Anna")
    scene = await game.create(
        {
            "displayName": "The Ferry",
            "description": "A muddy riverbank at dusk.",
            "characters": [
                {"character": f"workspaces/ws1/characters/{tony}"},
                {"character": f"workspaces/ws1/characters/{anna}"},
            ],
        },
        "scenes",
    )
    await game.deploy(scene["name"])
    scene_id = scene["name"].rsplit("/", 1)[-1]
    session = await game.ok(
        "POST", f"{V1}/scenes/{scene_id}:openSession", json={"name": scene["name"]}
    )
    assert session["loadedScene"] == scene["name"]
    names = {c["displayName"]: c for c in session["sessionCharacters"]}
    assert set(names) == {"Tony", "Anna"}
    assert names["Tony"]["character"] != names["Anna"]["character"]
    r = await game.send_text(session["name"], names["Anna"]["character"], "hello Anna")
    assert r.status_code == 200, r.text
    prompt = str(game.llm.prompts[-1])
    assert "Anna" in prompt
    assert "muddy riverbank" in prompt
    assert "Tony" in prompt


# -- bad input -------------------------------------------------------------------------


async def test_unknown_character_and_scene_404(game: Game) -> None:
    _error(
        await game.call("POST", f"{V1}/characters/nobody:openSession", json={}), 404, "NOT_FOUND"
    )
    _error(await game.call("POST", f"{V1}/scenes/nowhere:openSession", json={}), 404, "NOT_FOUND")
    _error(
        await game.call("POST", f"{V1}/characters/nobody:simpleSendText", json={"text": "hi"}),
        404,
        "NOT_FOUND",
    )


async def test_undeployed_character_412_names_deploy(game: Game) -> None:
    created = await game.create({"defaultCharacterDescription": {"givenName": "Draft"}})
    cid = created["name"].rsplit("/", 1)[-1]
    message = _error(
        await game.call("POST", f"{V1}/characters/{cid}:openSession", json={}),
        412,
        "FAILED_PRECONDITION",
    )
    assert f"/studio/v1/workspaces/ws1/characters/{cid}:deploy" in message


@pytest.mark.parametrize("text", ["", "   ", "x" * 4001])
async def test_bad_text_400(game: Game, text: str) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    r = await game.send_text(session["name"], session["sessionCharacters"][0]["character"], text)
    _error(r, 400, "INVALID_ARGUMENT")
    _error(
        await game.call("POST", f"{V1}/characters/{tony}:simpleSendText", json={"text": text}),
        400,
        "INVALID_ARGUMENT",
    )


async def test_text_of_4000_is_fine(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    r = await game.send_text(
        session["name"], session["sessionCharacters"][0]["character"], "y" * 4000
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    "trigger",
    ["test", "workspaces/ws1/test", "workspaces/ws1/triggers/", "workspaces/other/triggers/t", ""],
)
async def test_bad_trigger_name_400(game: Game, trigger: str) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    r = await game.send_trigger(
        session["name"], session["sessionCharacters"][0]["character"], trigger
    )
    _error(r, 400, "INVALID_ARGUMENT")


async def test_session_header_missing_or_mismatched_400(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]
    path = f"{V1}/sessions/{sid}/sessionCharacters/{agent}:sendText"
    _error(await game.call("POST", path, json={"text": "hi"}), 400, "INVALID_ARGUMENT")
    msg = _error(
        await game.call(
            "POST", path, json={"text": "hi"}, headers={"Grpc-Metadata-session-id": "ws1:other"}
        ),
        400,
        "INVALID_ARGUMENT",
    )
    assert "does not match" in msg


async def test_unknown_agent_and_session_404(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    _error(await game.send_text(session["name"], "no-such-agent", "hi"), 404, "NOT_FOUND")
    _error(await game.send_text("ws1:nope", "x", "hi"), 404, "NOT_FOUND")


async def test_backend_failure_503_leaves_session_unchanged(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]
    assert (await game.send_text(sid, agent, "first")).status_code == 200
    before = await game.store.sessions.get(sid)
    game.use_llm(
        ScriptedLLM(
            [Reply("never", fail_after=0, error=BackendError("model server down", retryable=True))]
        )
    )
    r = await game.send_text(sid, agent, "second")
    msg = _error(r, 503, "UNAVAILABLE")
    assert "model server down" in msg
    assert [i.input_text for i in await game.store.sessions.history(sid)] == ["first"]
    after = await game.store.sessions.get(sid)
    assert after == before
    game.use_llm(ScriptedLLM(["Back again."]))
    assert (await game.send_text(sid, agent, "third")).status_code == 200, "lease was released"


async def test_deleted_character_ends_session_with_404(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    await game.ok("DELETE", f"/studio/v1/workspaces/ws1/characters/{tony}")
    r = await game.send_text(session["name"], session["sessionCharacters"][0]["character"], "hi")
    _error(r, 404, "NOT_FOUND")


async def test_session_talks_to_the_version_it_opened_with(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    await game.ok(
        "PATCH",
        f"/studio/v1/workspaces/ws1/characters/{tony}",
        json={"defaultCharacterDescription": {"givenName": "Antonio"}},
    )
    await game.deploy(f"workspaces/ws1/characters/{tony}")
    await game.send_text(
        session["name"], session["sessionCharacters"][0]["character"], "who are you?"
    )
    assert "Tony" in str(game.llm.prompts[-1])
    fresh = await game.open(tony)
    await game.send_text(fresh["name"], fresh["sessionCharacters"][0]["character"], "who are you?")
    assert "Antonio" in str(game.llm.prompts[-1])


# -- workspace isolation ---------------------------------------------------------------


async def test_workspace_isolation(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]
    other = {"Authorization": await make_key(game.app, "ws2")}
    # ws2's key on ws1's paths: 403
    for method, path, body in [
        ("POST", f"{V1}/characters/{tony}:openSession", {}),
        ("POST", f"{V1}/characters/{tony}:simpleSendText", {"text": "hi"}),
        ("POST", f"{V1}/sessions/{sid}/sessionCharacters/{agent}:sendText", {"text": "hi"}),
    ]:
        r = await game.client.request(
            method, path, json=body, headers={**other, "Grpc-Metadata-session-id": sid}
        )
        _error(r, 403, "PERMISSION_DENIED")
    # ws2's key on its own paths, naming ws1's session or character: 404, nothing leaks
    r = await game.client.post(
        f"/v1/workspaces/ws2/sessions/{sid}/sessionCharacters/{agent}:sendText",
        json={"text": "hi"},
        headers={**other, "Grpc-Metadata-session-id": sid},
    )
    _error(r, 404, "NOT_FOUND")
    r = await game.client.post(
        f"/v1/workspaces/ws2/characters/{tony}:openSession", json={}, headers=other
    )
    _error(r, 404, "NOT_FOUND")
    assert len(await game.store.sessions.history(sid)) == 0


async def test_runtime_key_works_and_no_key_is_401(game: Game) -> None:
    tony = await game.character("Tony")
    runtime = {
        "Authorization": await make_key(
            game.app,
            "ws1",
            Scope.RUNTIME,
        )
    }
    r = await game.client.post(f"{V1}/characters/{tony}:openSession", json={}, headers=runtime)
    assert r.status_code == 200
    _error(
        await game.client.post(f"{V1}/characters/{tony}:openSession", json={}),
        401,
        "UNAUTHENTICATED",
    )


async def test_turns_are_serialised_across_workers(db_settings: Settings) -> None:
    """Two app instances (two workers) on one database, both talking to one session."""
    async with open_game(db_settings) as one, open_game(db_settings) as two:
        for name, g in (("A", one), ("B", two)):
            g.use_llm(ScriptedLLM([f"{name}{i} here." for i in range(20)], chunk_delay_s=0.002))
        tony = await one.character("Tony")
        session = await one.open(tony)
        sid, agent = session["name"], session["sessionCharacters"][0]["character"]
        results = await asyncio.gather(
            *((one if i % 2 else two).send_text(sid, agent, f"line {i}") for i in range(8))
        )
        assert all(r.status_code == 200 for r in results), [r.text for r in results]
        history = await one.store.sessions.history(sid)
        assert [i.seq for i in history] == list(range(8))
        seen = sorted(str(p).count("here.'") for g in (one, two) for p in g.llm.prompts)
        assert seen == list(range(8)), "every turn saw all the earlier ones"


async def test_interactions_are_readable_later(game: Game) -> None:
    game.use_llm(ScriptedLLM(["Aye. *nods*"]))
    tony = await game.character("Tony", description={"narrativeActionsEnabled": True})
    session = await game.open(tony)
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]
    await game.send_text(sid, agent, "hello")
    await game.send_trigger(
        sid, agent, "workspaces/ws1/triggers/bell", [{"name": "times", "value": "3"}]
    )
    now = [game.engine.clock() + game.engine.settings.session_ttl_seconds + 10]
    game.engine.clock = lambda: now[0]  # expired: still readable
    listed = await game.ok("GET", f"{V1}/sessions/{sid}/interactions")
    first, second = listed["interactions"]
    assert first["input"] == {"text": "hello", "narratedAction": False}
    assert first["textList"] == ["Aye.", "nods"]
    assert first["narrated"] == [False, True]
    assert first["agent"] == agent
    assert first["createTime"].endswith("Z")
    assert second["input"] == {
        "trigger": "workspaces/ws1/triggers/bell",
        "parameters": [{"name": "times", "value": "3"}],
    }
    one = await game.ok("GET", f"{V1}/sessions/{sid}/interactions", params={"pageSize": 1})
    assert [i["name"] for i in one["interactions"]] == [second["name"]]
    _error(await game.call("GET", f"{V1}/sessions/ws1:nope/interactions"), 404, "NOT_FOUND")
    other = {"Authorization": await make_key(game.app, "ws2")}
    r = await game.client.get(f"/v1/workspaces/ws2/sessions/{sid}/interactions", headers=other)
    _error(r, 404, "NOT_FOUND")


async def test_backend_failure_mid_reply_stores_nothing(game: Game) -> None:
    tony = await game.character("Tony")
    session = await game.open(tony)
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]
    game.use_llm(
        ScriptedLLM(
            [
                Reply(
                    "First sentence done. And then the model server",
                    fail_after=6,
                    error=BackendError("model server went away", retryable=True),
                )
            ]
        )
    )
    _error(await game.send_text(sid, agent, "tell me a story"), 503, "UNAVAILABLE")
    assert await game.store.sessions.history(sid) == []
    game.use_llm(ScriptedLLM(["Here I am."]))
    assert (await game.send_text(sid, agent, "again?")).status_code == 200
