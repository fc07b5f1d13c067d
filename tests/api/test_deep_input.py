"""Input nested too deeply is refused with each face's error, never a crash or a silent close.

Before, a WebSocket frame nested 1,000 deep raised RecursionError in the decoder and the
socket closed with code 1000 and nothing else; a frame a few hundred deep did the same in
protobuf's JSON parser.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from grpc import aio

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from anima.wire.nesting import MAX_DEPTH
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from tests.api.engine_helpers import Game, open_game
from tests.api.grpc_helpers import Face, Stream, access_token, key_pair, served, text
from tests.api.websocket_helpers import Rig, is_control, open_rig

DEPTHS = (MAX_DEPTH + 1, 200, 500, 999, 1000, 100_000)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_packet(depth: int) -> str:
    """A packet whose Struct payload (control.payload) nests ``depth`` levels in all."""
    inner = depth - 2  # inside the packet and control objects
    body = '{"a":' * inner + "1" + "}" * inner
    return '{"control":{"payload":' + body + "}}"


@pytest.fixture
def rig(settings: Settings) -> Iterator[Rig]:
    with open_rig(settings) as r:
        r.use_llm(ScriptedLLM(["Still here."]))
        yield r


def _warnings(frames: list[dict[str, Any]]) -> list[str]:
    return [f["result"]["control"]["description"] for f in frames if is_control("WARNING")(f)]


def test_websocket_frames_nested_too_deeply_get_a_warning_and_the_session_goes_on(
    rig: Rig,
) -> None:
    alice = rig.character("Alice")
    with rig.connect() as sock:
        agent = sock.handshake(alice)["control"]["currentSceneStatus"]["agents"][0]["agentId"]
        cid = sock.conversation(agent)
        for depth in DEPTHS:
            sock.send(nested(depth))
            sock.send(deep_packet(depth))
        sock.send(deep_packet(30))  # deep but within every bound: decoded, ignored
        iid = sock.say("are you there?", cid)
        reply = sock.reply(iid)
    warnings = _warnings(sock.received)
    assert len(warnings) == 2 * len(DEPTHS), warnings
    assert all(f"deeper than {MAX_DEPTH} levels" in w for w in warnings), warnings
    assert " ".join(p["text"]["text"] for p in reply if "text" in p) == "Still here."
    assert not any("error" in f for f in sock.received)


@pytest.fixture
async def game(settings: Settings) -> AsyncIterator[Game]:
    async with open_game(settings) as g:
        g.use_llm(ScriptedLLM(["Still here."]))
        yield g


@pytest.mark.parametrize("depth", DEPTHS)
async def test_rest_bodies_nested_too_deeply_are_a_400(game: Game, depth: int) -> None:
    body = '{"defaultCharacterDescription":{"givenName":"Deep"},"x":' + nested(depth - 1) + "}"
    for method, path in (
        ("POST", "/studio/v1/workspaces/ws1/characters"),
        ("POST", "/v1/workspaces/ws1/characters/nobody:openSession"),
    ):
        r = await game.client.request(
            method,
            path,
            content=body,
            headers={**game.headers, "content-type": "application/json"},
        )
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["status"] == "INVALID_ARGUMENT"
        assert f"deeper than {MAX_DEPTH} levels" in error["message"]


async def test_rest_bodies_within_the_bound_are_decoded(game: Game) -> None:
    body = {
        "defaultCharacterDescription": {"givenName": "Shallow"},
        "x": json.loads(nested(MAX_DEPTH - 1)),
    }
    r = await game.client.post(
        "/studio/v1/workspaces/ws1/characters", json=body, headers=game.headers
    )
    assert r.status_code == 400, r.text  # decoded, then refused: the field is unknown
    assert r.json()["error"]["message"] == "x: unknown field"


@pytest.fixture
async def face(game: Game) -> AsyncIterator[Face]:
    async with served(game.app) as f:
        yield f


def _deep_struct_packet(depth: int) -> pb.InworldPacket:
    p = pb.InworldPacket()
    p.packet_id.packet_id = f"deep-{depth}"
    node = p.control.payload
    for _ in range(depth):
        node = node.fields["a"].struct_value
    return p


async def test_grpc_packets_nested_too_deeply_get_a_warning_and_the_session_goes_on(
    face: Face, game: Game
) -> None:
    alice = f"workspaces/ws1/characters/{await game.character('Alice')}"
    key, secret = await key_pair(face.app, "ws1")
    token = await access_token(face, key, secret)
    stream = Stream(face, token, token.session_id)
    status = await stream.open(alice)
    await stream.converse("c1", status.agents[0].agent_id)
    for depth in (60, 200, 1000):
        await stream.send(_deep_struct_packet(depth))
    warnings = await stream.read_until(lambda p: p.control.action == pb.ControlEvent.WARNING)
    said = text("c1", "are you there?")
    await stream.send(said)
    reply = await stream.reply(said.packet_id.interaction_id)
    assert "too deeply" in warnings[-1].control.description
    assert [p.text.text for p in reply if p.HasField("text")] == ["Still here."]
    stream.call.cancel()


async def test_grpc_unary_requests_that_cannot_be_decoded_are_invalid_argument(
    face: Face,
) -> None:
    async with aio.insecure_channel(face.host) as ch:
        call = ch.unary_unary("/ai.inworld.engine.WorldEngine/GenerateToken")
        with pytest.raises(aio.AioRpcError) as caught:
            await call(b"\xff\xff\xff\xff")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_bug_decoding_a_frame_ends_the_socket_with_an_error_frame(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anima.api.websocket as face

    real = face.decode_json

    def buggy(frame: str | bytes) -> Any:
        if frame == "boom":
            raise RecursionError("a decoder bug")
        return real(frame)

    monkeypatch.setattr(face, "decode_json", buggy)
    alice = rig.character("Alice")
    with rig.connect() as sock:
        sock.handshake(alice)
        sock.send("boom")
        frames = sock.closed()
    assert frames[-1]["error"]["code"] == 13
    assert "internal error" in frames[-1]["error"]["message"]
