"""The REST proxy's routes: every black-box case of spec rest-proxy.md §6, then what Anima
adds (state in the store across a restart and two workers, the bounded queue, the bind and
the bearer token). In-process over the real store (SQLite and PostgreSQL), scripted model.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from asgi_lifespan import LifespanManager

from anima.api import proxy as proxy_face
from anima.api.auth import REVOCATION_POLL_SECONDS
from anima.api.proxy import ProxyApp
from anima.app import create_app
from anima.backends.scripted import ScriptedLLM
from anima.domain.credentials import Scope, new_key_pair
from anima.domain.events import Utterance
from anima.domain.proxy import ProxyEvent
from anima.pipeline.proxy import ProxySessions
from anima.settings import Settings
from tests.api.engine_helpers import Game, open_game

SAID = ("Welcome to Wonderland. Mind the mushrooms.",)
POLL_SECONDS = 30.0  # only so a broken server fails the test instead of hanging it


@dataclass
class Rig:
    game: Game
    proxy: httpx.AsyncClient
    sessions: ProxySessions
    scene: str
    c0: str  # resource names of the scene's characters, in order
    c1: str

    async def open(self, **body: Any) -> httpx.Response:
        return await self.proxy.post("/session/open", json=body)

    async def opened(self, **body: Any) -> dict[str, Any]:
        r = await self.open(**body)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer

    async def events(self, server: str | None = None) -> list[dict[str, Any]]:
        """Once the turns running now are done: what the queue (or a server's part) holds."""
        await self.sessions.idle()
        r = await self.proxy.get("/events" if server is None else f"/events/{server}")
        assert r.status_code == 200
        found: list[dict[str, Any]] = r.json()
        assert found
        return found


async def _scene(game: Game) -> tuple[str, str, str]:
    alice, bert = await game.character("Alice"), await game.character("Bert")
    c0, c1 = (f"workspaces/ws1/characters/{c}" for c in (alice, bert))
    scene = await game.create(
        {"displayName": "Mushroom", "characters": [{"character": c0}, {"character": c1}]},
        "scenes",
    )
    await game.deploy(scene["name"])
    return scene["name"], c0, c1


@asynccontextmanager
async def _rig(settings: Settings) -> AsyncIterator[Rig]:
    async with open_game(settings) as game:
        game.use_llm(ScriptedLLM(SAID))
        scene, c0, c1 = await _scene(game)
        sessions = ProxySessions(game.engine, settings)
        transport = httpx.ASGITransport(app=ProxyApp(sessions))
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy.test") as client:
            yield Rig(game, client, sessions, scene, c0, c1)
        await sessions.shutdown()


@pytest.fixture
async def rig(db_settings: Settings) -> AsyncIterator[Rig]:
    async with _rig(db_settings) as r:
        yield r


def _text(r: httpx.Response, status: int, body: str) -> None:
    assert (r.status_code, r.text) == (status, body)
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


def _json(r: httpx.Response, status: int, value: Any) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == value


def _invalid(r: httpx.Response, *problems: str) -> None:
    assert r.status_code == 400
    assert "content-type" not in r.headers  # res.end(): no Content-Type
    assert r.text == "Error validating request body." + "".join(f" {p}." for p in problems)


# -- §6 -----------------------------------------------------------------------------------------


async def test_1_index_and_status(rig: Rig) -> None:
    _text(await rig.proxy.get("/status"), 200, "OK")
    r = await rig.proxy.get("/")
    assert (r.status_code, r.text) == (200, "Inworld.AI RESTful Server")
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    _text(await rig.proxy.get("/Status/"), 200, "OK")  # Express: any case, a trailing slash
    assert (await rig.proxy.head("/status")).status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"


async def test_2_unknown_routes(rig: Rig) -> None:
    _json(await rig.proxy.get("/nope"), 404, "Route Not Found")
    _json(await rig.proxy.post("/status"), 404, "Route Not Found")
    _json(await rig.proxy.delete("/session/x/close"), 404, "Route Not Found")  # never 405


async def test_3_4_open_validation(rig: Rig) -> None:
    _invalid(await rig.open(), '"uid" is required', '"sceneId" is required')
    _invalid(await rig.open(uid=-1, sceneId=rig.scene), '"uid" must be a string')
    _invalid(await rig.open(uid="1", sceneId=rig.scene, x=1), '"x" is not allowed')
    _invalid(
        await rig.open(uid=-1, sceneId="", foo=1),
        '"uid" must be a string',
        '"sceneId" is not allowed to be empty',
        '"foo" is not allowed',
    )
    _invalid(await rig.proxy.post("/session/open", json=[]), '"value" must be of type object')
    _invalid(await rig.open(uid=None, sceneId=rig.scene), '"uid" must be a string')
    # Not JSON: express.json() leaves the body {}; malformed JSON: Express's HTML 400 page.
    form = await rig.proxy.post("/session/open", data={"uid": "1", "sceneId": rig.scene})
    _invalid(form, '"uid" is required', '"sceneId" is required')
    bad = await rig.proxy.post(
        "/session/open", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("text/html")
    assert "SyntaxError" in bad.text


async def test_5_open(rig: Rig) -> None:
    r = await rig.open(
        uid="-1", sceneId=rig.scene, characterId="-1", playerName="Player1", serverId="1234"
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert list(body) == ["sessionId", "character", "characters"]
    assert body["sessionId"]
    assert "/" not in body["sessionId"]
    c0, c1 = body["characters"]
    assert [c["resourceName"] for c in (c0, c1)] == [rig.c0, rig.c1]
    assert list(c0) == ["id", "resourceName", "displayName"]
    assert (c0["displayName"], c1["displayName"]) == ("Alice", "Bert")
    assert body["character"] == c0  # "-1": the scene's first character
    # The sessionId is the Anima session holding the conversation (engine REST API).
    session = await rig.game.store.sessions.get(body["sessionId"])
    assert session is not None
    assert session.player.name == "Player1"


async def test_6_duplicates(rig: Rig) -> None:
    first = dict(uid="-1", sceneId=rig.scene, characterId="-1", playerName="P", serverId="1234")
    await rig.opened(**first)
    _json(await rig.open(**first), 409, "Unable to create session")
    without_server = {k: v for k, v in first.items() if k != "serverId"}
    _json(await rig.open(**without_server), 409, "Unable to create session")
    _json(await rig.open(**{**first, "serverId": ""}), 409, "Unable to create session")
    other = await rig.opened(**{**first, "serverId": "999"})
    assert other["sessionId"]
    # "-1", "" and an omitted characterId are distinct keys (§5 item 3)
    await rig.opened(**{**first, "characterId": ""})


async def test_7_status(rig: Rig) -> None:
    sid = (await rig.opened(uid="u", sceneId=rig.scene))["sessionId"]
    _json(await rig.proxy.get(f"/session/{sid}/status"), 200, True)
    _json(await rig.proxy.get("/session/bogus/status"), 404, "Session bogus Not Found")


async def test_8_9_message_and_events(rig: Rig) -> None:
    sid = (await rig.opened(uid="-1", sceneId=rig.scene, serverId="1234"))["sessionId"]
    empty = await rig.proxy.post(f"/session/{sid}/message", json={"message": ""})
    _invalid(empty, '"message" is not allowed to be empty')
    _text(
        await rig.proxy.post(f"/session/{sid}/message", json={"message": "Hello"}), 202, "Accepted"
    )
    bogus = await rig.proxy.post("/session/bogus/message", json={"message": "Hello"})
    _json(bogus, 404, "Session bogus Not Found")
    long = await rig.proxy.post(f"/session/{sid}/message", json={"message": "x" * 4001})
    _invalid(long, '"message" length must be less than or equal to 4000 characters long')
    huge = await rig.proxy.post(f"/session/{sid}/message", json={"message": "x" * 200_000})
    assert huge.status_code == 413  # express.json()'s 100 kB limit

    events = await rig.events("1234")
    assert [list(e) for e in events] == [
        ["type", "sessionId", "uid", "serverId", "final", "text"]
    ] * len(events)
    assert {(e["type"], e["sessionId"], e["uid"], e["serverId"], e["final"]) for e in events} == {
        ("text", sid, "-1", "1234", True)
    }
    texts = [e["text"] for e in events]
    assert texts[:2] == ["Welcome to Wonderland.", " Mind the mushrooms."]
    _json(await rig.proxy.get("/events/1234"), 200, [])
    (stored,) = await rig.game.store.sessions.history(sid)
    assert stored.input_text == "Hello"  # the player's own text is never queued


async def test_9_emotions_when_asked_for(db_settings: Settings) -> None:
    async with _rig(db_settings.model_copy(update={"proxy_emotions": True})) as rig:
        sid = (await rig.opened(uid="-1", sceneId=rig.scene, serverId="1"))["sessionId"]
        await rig.proxy.post(f"/session/{sid}/message", json={"message": "Hi"})
        events = await rig.events("1")
    emotions = [e for e in events if e["type"] == "emotion"]
    assert emotions
    assert len(emotions) == len([e for e in events if e["type"] == "text"])
    for e in emotions:
        assert list(e)[:8] == [
            "type",
            "sessionId",
            "uid",
            "serverId",
            "joy",
            "fear",
            "trust",
            "surprise",
        ]
        assert e["behavior"][0].isupper()
        assert "_" not in e["behavior"]
        assert e.get("strength", "Weak") in ("Weak", "Strong")


async def test_10_custom_trigger(rig: Rig) -> None:
    sid = (await rig.opened(uid="u", sceneId=rig.scene))["sessionId"]
    _text(await rig.proxy.get(f"/session/{sid}/custom/greet"), 202, "Accepted")
    _text(await rig.proxy.get("/session/bogus/custom/x"), 404, "Not Found")  # text, not JSON
    await rig.events()
    (stored,) = await rig.game.store.sessions.history(sid)
    assert (stored.input_kind, stored.trigger) == ("trigger", "greet")


async def test_11_set_character(rig: Rig) -> None:
    body = await rig.opened(uid="u", sceneId=rig.scene, characterId="-1")
    sid = body["sessionId"]
    c0, c1 = body["characters"]
    _json(await rig.proxy.post(f"/session/{sid}/character/{quote(rig.c1, safe='')}"), 200, c1)
    _json(await rig.proxy.get(f"/session/{sid}/character"), 200, c1)
    _json(await rig.proxy.post(f"/session/{sid}/character/-1"), 200, c1)  # unchanged
    _json(await rig.proxy.post(f"/session/{sid}/character/{rig.c1}"), 404, "Route Not Found")
    _json(await rig.proxy.post(f"/session/{sid}/character/{c0['id']}"), 200, c0)  # agent id too
    _json(await rig.proxy.get(f"/session/{sid}/characters"), 200, [c0, c1])
    _json(await rig.proxy.get("/session/bogus/character"), 404, "Session bogus Not Found")
    # Messages go to the current character; the stored characterId is now its name (§5 item 3).
    await rig.proxy.post(f"/session/{sid}/character/{quote(rig.c1, safe='')}")
    await rig.proxy.post(f"/session/{sid}/message", json={"message": "Hello Bert"})
    await rig.events()
    (stored,) = await rig.game.store.sessions.history(sid)
    assert stored.agent_id == c1["id"]
    _json(
        await rig.open(uid="u", sceneId=rig.scene, characterId=rig.c1),
        409,
        "Unable to create session",
    )


async def test_12_set_server(rig: Rig) -> None:
    sid = (await rig.opened(uid="u", sceneId=rig.scene, serverId="1234"))["sessionId"]
    _text(await rig.proxy.get(f"/session/{sid}/server/5678"), 202, "Accepted")
    await rig.proxy.post(f"/session/{sid}/message", json={"message": "Hello"})
    moved = await rig.events("5678")
    assert {e["serverId"] for e in moved} == {"5678"}
    _json(await rig.proxy.get("/events/1234"), 200, [])
    _json(await rig.proxy.get("/session/bogus/server/1"), 404, "Session bogus Not Found")


async def test_13_no_server(rig: Rig) -> None:
    mine = (await rig.opened(uid="fresh", sceneId=rig.scene))["sessionId"]
    tagged = (await rig.opened(uid="other", sceneId=rig.scene, serverId="7"))["sessionId"]
    await rig.proxy.post(f"/session/{mine}/message", json={"message": "Hello"})
    await rig.proxy.post(f"/session/{tagged}/message", json={"message": "Hello"})
    await rig.sessions.idle()
    _json(await rig.proxy.get("/events/undefined"), 200, [])
    events = (await rig.proxy.get("/events")).json()  # the global drain takes every server's
    assert {e["sessionId"] for e in events} == {mine, tagged}
    assert all("serverId" not in e for e in events if e["sessionId"] == mine)
    _json(await rig.proxy.get("/events"), 200, [])


async def test_14_closeall(rig: Rig) -> None:
    _text(await rig.proxy.get("/session/closeall/nobody"), 200, "OK")
    # Route shadowing, as in the original: this reaches /session/:sessionId/close.
    _json(await rig.proxy.get("/session/closeall/close"), 404, "Session closeall Not Found")


async def test_15_close(rig: Rig) -> None:
    sid = (await rig.opened(uid="u", sceneId=rig.scene, serverId="s"))["sessionId"]
    _text(await rig.proxy.get(f"/session/{sid}/close"), 200, "OK")
    _json(await rig.proxy.get(f"/session/{sid}/close"), 404, f"Session {sid} Not Found")
    _json(await rig.proxy.get(f"/session/{sid}/status"), 404, f"Session {sid} Not Found")

    on_s = (await rig.opened(uid="u", sceneId=rig.scene, serverId="s"))["sessionId"]
    on_t = (await rig.opened(uid="u", sceneId=rig.scene, serverId="t"))["sessionId"]
    _text(await rig.proxy.get("/session/closeall/u/server/s"), 200, "OK")
    _json(await rig.proxy.get(f"/session/{on_s}/status"), 404, f"Session {on_s} Not Found")
    _json(await rig.proxy.get(f"/session/{on_t}/status"), 200, True)
    _text(await rig.proxy.get("/session/closeall/u"), 200, "OK")
    _json(await rig.proxy.get(f"/session/{on_t}/status"), 404, f"Session {on_t} Not Found")


# -- Anima's decisions and additions ---------------------------------------------------------------


async def test_a_failed_open_leaves_no_zombie(rig: Rig) -> None:
    missing = "workspaces/ws1/scenes/nowhere"
    _json(await rig.open(uid="u", sceneId=missing), 409, "Unable to create session")
    _json(await rig.open(uid="u", sceneId="not-a-scene"), 409, "Unable to create session")
    assert await rig.game.store.proxy.of_user("u") == []
    await rig.opened(uid="u", sceneId=rig.scene)  # no 409 from a leftover


async def test_an_expired_session_is_removed_and_disconnected(rig: Rig) -> None:
    sid = (await rig.opened(uid="u", sceneId=rig.scene, serverId="9"))["sessionId"]
    rig.game.engine.clock = lambda: time.time() + 10 * 3600  # well past the idle expiry
    _json(await rig.proxy.get(f"/session/{sid}/status"), 404, f"Session {sid} Not Found")
    _json(
        await rig.proxy.get("/events/9"),
        200,
        [{"type": "disconnected", "sessionId": sid, "uid": "u", "serverId": "9"}],
    )


async def test_the_queue_is_bounded(db_settings: Settings) -> None:
    small = db_settings.model_copy(update={"proxy_queue_limit": 3})
    async with _rig(small) as rig:
        sid = (await rig.opened(uid="u", sceneId=rig.scene))["sessionId"]
        for n in range(3):
            await rig.proxy.post(f"/session/{sid}/message", json={"message": f"Hello {n}"})
            await rig.sessions.idle()
        events = (await rig.proxy.get("/events")).json()
        said = [t for i in await rig.game.store.sessions.history(sid) for t in i.texts]
        assert len(said) > 3
        assert [e["text"].strip() for e in events] == said[-3:]  # the oldest were dropped


async def test_sessions_and_events_survive_a_restart(sqlite_settings: Settings) -> None:
    async with _rig(sqlite_settings) as rig:
        sid = (await rig.opened(uid="u", sceneId=rig.scene, serverId="1"))["sessionId"]
        await rig.proxy.post(f"/session/{sid}/message", json={"message": "Hello"})
        await rig.sessions.idle()
    async with _worker(sqlite_settings) as proxy:  # a new process over the same database
        _json(await proxy.get(f"/session/{sid}/status"), 200, True)
        queued = (await proxy.get("/events/1")).json()
        assert [e["text"].strip() for e in queued] == [
            "Welcome to Wonderland.",
            "Mind the mushrooms.",
        ]


async def test_the_queue_holds_domain_events_and_the_face_shapes_them(rig: Rig) -> None:
    sid = (await rig.opened(uid="u", sceneId=rig.scene, serverId="7"))["sessionId"]
    await rig.proxy.post(f"/session/{sid}/message", json={"message": "Hello"})
    await rig.sessions.idle()
    queued = await rig.sessions.drain("7")
    assert all(isinstance(q, ProxyEvent) for q in queued)
    assert [
        (type(q.event), q.event.text, q.continued, q.server_id)
        for q in queued
        if isinstance(q, ProxyEvent) and isinstance(q.event, Utterance)
    ] == [
        (Utterance, "Welcome to Wonderland.", False, "7"),
        (Utterance, "Mind the mushrooms.", True, "7"),
    ]


async def test_events_an_older_server_queued_are_delivered_as_they_were(rig: Rig) -> None:
    # An older server queued the proxy's JSON itself, not the domain events: a running one
    # may leave such rows in the queue for this one to deliver.
    sid = (await rig.opened(uid="u", sceneId=rig.scene, serverId="7"))["sessionId"]
    old = [
        {
            "type": "text",
            "sessionId": sid,
            "uid": "u",
            "serverId": "7",
            "final": True,
            "text": "Hi",
        },
        {"type": "custom", "sessionId": sid, "uid": "u", "serverId": "7", "name": "waved"},
        {"type": "disconnected", "sessionId": "ws1:gone", "uid": "v"},  # no serverId
    ]
    await rig.game.store.proxy.push(old, limit=100, now=time.time())
    await rig.proxy.post(f"/session/{sid}/message", json={"message": "Hello"})
    events = await rig.events("7")
    assert events[:2] == old[:2]
    assert [list(e) for e in events[:2]] == [list(e) for e in old[:2]]  # keys in their order
    assert [e["text"] for e in events[2:4]] == ["Welcome to Wonderland.", " Mind the mushrooms."]
    _json(await rig.proxy.get("/events"), 200, old[2:])


@asynccontextmanager
async def _worker(settings: Settings, **update: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A whole app as ``anima serve`` runs it, its proxy on a real local port."""
    app = create_app(settings.model_copy(update={"grpc_port": 0, **update}))
    async with LifespanManager(app, startup_timeout=120):
        app.state.anima.engine.turns.llm = ScriptedLLM(SAID)
        async with (
            proxy_face.serving(app.state.anima, port=0) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
        ):
            yield client


async def test_two_workers_share_sessions_and_the_queue(db_settings: Settings) -> None:
    async with open_game(db_settings) as game:
        scene, _, _ = await _scene(game)
    async with _worker(db_settings) as one, _worker(db_settings) as two:
        opened = await one.post("/session/open", json={"uid": "u", "sceneId": scene})
        sid = opened.json()["sessionId"]
        _json(await two.get(f"/session/{sid}/status"), 200, True)
        dup = await two.post("/session/open", json={"uid": "u", "sceneId": scene})
        _json(dup, 409, "Unable to create session")
        _text(await two.post(f"/session/{sid}/message", json={"message": "Hi"}), 202, "Accepted")
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + POLL_SECONDS
        while len(events) < 2 and time.monotonic() < deadline:
            events += (await one.get("/events")).json()  # drained on the other worker
            await asyncio.sleep(0.05)
        assert [e["text"].strip() for e in events] == [
            "Welcome to Wonderland.",
            "Mind the mushrooms.",
        ]
        _text(await one.get(f"/session/{sid}/close"), 200, "OK")
        _json(await two.get(f"/session/{sid}/status"), 404, f"Session {sid} Not Found")


async def test_a_bearer_token_when_configured(sqlite_settings: Settings) -> None:
    async with _worker(sqlite_settings, proxy_token="s3cret") as proxy:
        denied = await proxy.get("/status")
        assert denied.status_code == 401
        assert "Bearer" in denied.json()
        _text(await proxy.get("/status", headers={"Authorization": "Bearer s3cret"}), 200, "OK")
        wrong = await proxy.get("/status", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        preflight = await proxy.options(
            "/session/open",
            headers={"Origin": "http://game", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"


async def test_serve_binds_the_proxy_port_on_localhost(sqlite_settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(
        sqlite_settings.model_copy(update={"grpc_port": 0, "proxy_port": port}), serve_grpc=True
    )
    async with LifespanManager(app, startup_timeout=120), httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{port}/status")
    assert (r.status_code, r.text) == (200, "OK")


async def test_a_default_scene_that_cannot_be_opened_is_a_start_up_warning(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "anima.proxy"):
        async with _worker(sqlite_settings, proxy_scene="workspaces/ws1/scenes/nowhere") as proxy:
            _text(await proxy.get("/status"), 200, "OK")  # it serves all the same
    (warning,) = [r.getMessage() for r in caplog.records if "default scene" in r.getMessage()]
    assert "nowhere" in warning


async def test_with_a_proxy_key_sessions_open_in_its_workspace_only(
    sqlite_settings: Settings,
) -> None:
    async with open_game(sqlite_settings) as game:
        scene, _, _ = await _scene(game)
        pair = new_key_pair()
        await game.store.keys.add("ws1", Scope.RUNTIME, pair)
        keyed = {"proxy_key": pair.key, "proxy_secret": pair.secret}
        async with _worker(sqlite_settings, **keyed) as proxy:
            opened = await proxy.post("/session/open", json={"uid": "u", "sceneId": scene})
            assert opened.status_code == 200
            elsewhere = {"uid": "u", "sceneId": "workspaces/other/scenes/s"}
            refused = await proxy.post("/session/open", json=elsewhere)
            _json(refused, 409, "Unable to create session")
            assert await game.store.keys.revoke(pair.key)
            await asyncio.sleep(REVOCATION_POLL_SECONDS)  # every worker sees it within this
            again = await proxy.post("/session/open", json={"uid": "v", "sceneId": scene})
            _json(again, 409, "Unable to create session")
        wrong = {"proxy_key": pair.key, "proxy_secret": "nope"}
        async with _worker(sqlite_settings, **wrong) as proxy:
            denied = await proxy.post("/session/open", json={"uid": "w", "sceneId": scene})
            _json(denied, 409, "Unable to create session")
