"""Text the store cannot keep (lone UTF-16 surrogates, NUL) is refused at the edge of every
face with a 400 naming the field, and nothing of it is stored (issue 13, item 2)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from grpc import StatusCode

from anima.api.checked import CheckedRoute
from anima.api.grpc.status import unary
from anima.backends.scripted import ScriptedLLM
from anima.errors import InvalidArgument
from anima.settings import Settings
from anima.wire import text
from anima.wire.inputs import decode, decode_json
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from tests.api.engine_helpers import V1, Game
from tests.api.studio_helpers import BASE, bad_request, open_studio
from tests.api.websocket_helpers import Rig, is_control, open_rig, packet

LONE = "Poison\ud800"


def raw(body: Any) -> dict[str, Any]:
    """Request arguments sending ``body`` as JSON with escapes (as a browser would), which
    lets a lone surrogate through (httpx's own ``json=`` cannot encode one)."""
    return {"content": json.dumps(body), "headers": {"content-type": "application/json"}}


@pytest.fixture
async def game(settings: Settings) -> AsyncIterator[Game]:
    async with open_studio(settings) as studio:
        yield Game(studio.app, studio.client, studio.headers)


def violations(r: httpx.Response) -> list[str]:
    error = r.json()["error"]
    return [v["field"] for d in error["details"] for v in d.get("fieldViolations", [])]


# -- REST ------------------------------------------------------------------------------------


async def test_a_scene_named_with_a_lone_surrogate_is_refused_and_the_list_stays_readable(
    game: Game,
) -> None:
    r = await game.call("POST", f"{BASE}/scenes", **raw({"displayName": LONE}))
    assert "surrogate" in bad_request(r, "displayName")
    listed = await game.ok("GET", f"{BASE}/scenes")
    assert listed["scenes"] == []


async def test_every_studio_text_field_is_checked_by_its_json_path(game: Game) -> None:
    body = {"defaultCharacterDescription": {"givenName": "Ann", "nicknames": ["ok", LONE]}}
    r = await game.call("POST", f"{BASE}/characters", **raw(body))
    bad_request(r, "defaultCharacterDescription.nicknames[1]")
    r = await game.call("POST", f"{BASE}/characters", **raw({LONE: 1}))
    assert "(a key)" in bad_request(r)
    knowledge = {"displayName": "K", "knowledgeRecords": [{"text": "NUL\x00here"}]}
    r = await game.call("POST", f"{BASE}/common-knowledge", **raw(knowledge))
    assert "NUL" in bad_request(r, "knowledgeRecords[0].text")
    assert (await game.ok("GET", f"{BASE}/common-knowledge"))["commonKnowledge"] == []


async def test_a_trigger_parameter_with_a_lone_surrogate_is_refused(game: Game) -> None:
    game.use_llm(ScriptedLLM(["Hello."]))
    character = await game.character()
    session = await game.open(character)
    sid, agent = session["name"], session["sessionCharacters"][0]["character"]
    body = {
        "triggerEvent": {
            "trigger": "workspaces/ws1/triggers/wave",
            "parameters": [{"name": "who", "value": LONE}],
        }
    }
    r = await game.call(
        "POST",
        f"{V1}/sessions/{sid}/sessionCharacters/{agent}:sendTrigger",
        content=json.dumps(body),
        headers={"content-type": "application/json", "Grpc-Metadata-session-id": sid},
    )
    bad_request(r, "triggerEvent.parameters[0].value")
    listed = await game.ok("GET", f"{V1}/sessions/{sid}/interactions")
    assert listed["interactions"] == []


async def test_an_end_user_id_with_a_lone_surrogate_never_opens_a_session(game: Game) -> None:
    character = await game.character()
    body = {"name": f"workspaces/ws1/characters/{character}", "user": {"endUserId": LONE}}
    r = await game.call("POST", f"{V1}/characters/{character}:openSession", **raw(body))
    bad_request(r, "user.endUserId")
    r = await game.call(
        "POST", f"{V1}/characters/{character}:simpleSendText", **raw({"text": "hi\x00"})
    )
    bad_request(r, "text")


async def test_query_and_path_parameters_are_checked(game: Game) -> None:
    character = await game.character()
    r = await game.call(
        "GET", f"{V1}/characters/{character}:simpleSendText", params={"text": "a\x00b"}
    )
    bad_request(r, "text")
    r = await game.call("GET", f"{BASE}/scenes/bad%00id")
    bad_request(r, "scene")
    r = await game.call("GET", f"{BASE}/characters", params={"filter": "x\x00"})
    bad_request(r, "filter")


async def test_the_web_sdk_routes_refuse_in_their_own_error_shape(game: Game) -> None:
    token = await game.ok(
        "POST", "/auth/v1/tokens/token:generate", json={"resources": ["workspaces/ws1"]}
    )
    sid = token["sessionId"]
    r = await game.client.post(
        f"/v1/feedback/workspaces/ws1/sessions/{sid}/interactions/i1/groups/default/feedbacks",
        content=json.dumps({"isLike": True, "comment": "nul\x00"}),
        headers={
            "Authorization": f"Bearer {token['token']}",
            "Grpc-Metadata-session-id": sid,
            "content-type": "application/json",
        },
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == 3  # google.rpc.Status at the root, as the web SDK reads it
    assert "comment" in body["message"]


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            found.extend(_api_routes(included.routes))
    return found


def test_every_rest_route_of_the_app_checks_its_text(game: Game) -> None:
    routes = _api_routes(game.app.routes)
    assert len(routes) > 30
    unchecked = [r.path for r in routes if not isinstance(r, CheckedRoute)]
    assert unchecked == []


# -- WebSocket -------------------------------------------------------------------------------


@pytest.fixture
def rig(settings: Settings) -> AsyncIterator[Rig]:
    with open_rig(settings) as r:
        r.use_llm(ScriptedLLM(["Still here."]))
        yield r


def test_a_websocket_text_with_a_lone_surrogate_is_a_warning_naming_the_field(rig: Rig) -> None:
    alice = rig.character("Alice")
    with rig.connect() as sock:
        agent = sock.handshake(alice)["control"]["currentSceneStatus"]["agents"][0]["agentId"]
        cid = sock.conversation(agent)
        bad = packet({"text": {"text": LONE, "final": True}}, conversationId=cid)
        sock.send(json.dumps(bad))  # escaped: "\ud800" on the wire
        warning = sock.until(is_control("WARNING"))[-1]
        assert "text.text" in warning["result"]["control"]["description"]
        sock.send(packet({"text": {"text": "nul\x00", "final": True}}, conversationId=cid))
        warning = sock.until(is_control("WARNING"))[-1]
        assert "NUL" in warning["result"]["control"]["description"]
        iid = sock.say("are you there?", cid)
        sock.reply(iid)
    listed = rig.ok("GET", f"/v1/workspaces/ws1/sessions/{sock.session_id}/interactions")
    assert [i["input"]["text"] for i in listed["interactions"]] == ["are you there?"]


# -- protobuf (gRPC and WebSocket packets) ---------------------------------------------------


def test_a_packet_with_nul_is_refused_by_the_codec() -> None:
    message = pb.InworldPacket()
    message.text.text = "a\x00b"
    with pytest.raises(InvalidArgument) as caught:
        decode(message)
    assert caught.value.field == "text.text"
    message = pb.InworldPacket()
    message.custom.name = "wave"
    message.custom.parameters.add(name="who", value="x\x00")
    with pytest.raises(InvalidArgument) as caught:
        decode(message)
    assert caught.value.field == "custom.parameters[0].value"
    with pytest.raises(InvalidArgument):
        decode_json(json.dumps({"text": {"text": LONE}}))


class _Context:
    def __init__(self) -> None:
        self.code: StatusCode | None = None

    async def abort(self, code: StatusCode, message: str, **_kw: Any) -> None:
        self.code = code
        raise RuntimeError(message)


async def test_a_unary_grpc_request_with_nul_is_invalid_argument() -> None:
    calls: list[str] = []

    class Service:
        @unary("Probe")
        async def probe(self, request: pb.InworldPacket, context: Any) -> pb.InworldPacket:
            calls.append(request.text.text)
            return request

    message = pb.InworldPacket()
    message.text.text = "x\x00"
    context = _Context()
    with pytest.raises(RuntimeError, match=r"text\.text"):
        await Service().probe(message, context)
    assert context.code is StatusCode.INVALID_ARGUMENT
    assert calls == []


# -- the check itself ------------------------------------------------------------------------


def test_loads_names_the_json_path_and_survives_deep_nesting() -> None:
    with pytest.raises(InvalidArgument) as caught:
        text.loads(json.dumps({"a": [{"b": "ok"}, {"b": "\udfff"}]}))
    assert caught.value.field == "a[1].b"
    with pytest.raises(InvalidArgument, match="nests deeper"):
        text.loads("[" * 100_000 + "]" * 100_000)
    deep = "[" * 30 + '"\\ud800"' + "]" * 30
    with pytest.raises(InvalidArgument) as caught:
        text.loads(deep)
    assert caught.value.field == "[0]" * 30
