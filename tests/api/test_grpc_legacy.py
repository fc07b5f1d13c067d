"""The older protocol over the in-process gRPC face: GenerateSessionToken, LoadScene, Session.

The client side is written the way node SDK 0.9.4 and 1.11.0 behave (their generated
protobuf code and connection service); the SDKs themselves drive the real server in
tests/conformance/test_node_sdk_legacy.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc import aio

from anima.backends.scripted import ScriptedLLM
from anima.domain import tokens
from anima.settings import Settings
from anima.wire.pb.ai.inworld.common import status_pb2 as inworld_status_pb2
from anima.wire.pb.ai.inworld.engine import world_engine_pb2 as we
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from anima.wire.pb.ai.inworld.studio.v1alpha import tokens_pb2 as tok
from anima.wire.pb.ai.inworld.studio.v1alpha import tokens_pb2_grpc as tok_grpc
from tests.api.engine_helpers import Game, open_game
from tests.api.grpc_helpers import (
    READ_GUARD_SECONDS,
    Face,
    access_token,
    inworld_details,
    key_pair,
    served,
)

SPEAKING = ("Ahoy there, traveller. The river is calm today.",)


@pytest.fixture
async def game(db_settings: Settings) -> AsyncIterator[Game]:
    async with open_game(db_settings) as g:
        g.use_llm(ScriptedLLM(SPEAKING))
        yield g


@pytest.fixture
async def face(game: Game) -> AsyncIterator[Face]:
    async with served(game.app) as f:
        yield f


@pytest.fixture
async def alice(game: Game) -> str:
    return f"workspaces/ws1/characters/{await game.character('Alice')}"


def _studio_signed(key: str, secret: str, host: str) -> tuple[tuple[str, str], ...]:
    header = tokens.sign_request(
        key,
        secret,
        host,
        now=dt.datetime.now(dt.UTC),
        nonce=uuid.uuid4().hex[:11],
        method=tokens.GENERATE_SESSION_TOKEN_METHOD,
    )
    return (("authorization", header),)


async def _session_token(face: Face) -> tok.SessionAccessToken:
    """What 0.9.x does first: the v1alpha token call, signed over its own path."""
    key, secret = await key_pair(face.app, "ws1")
    stub = tok_grpc.TokensStub(face.channel)
    token: tok.SessionAccessToken = await stub.GenerateSessionToken(
        tok.GenerateSessionTokenRequest(key=key), metadata=_studio_signed(key, secret, face.host)
    )
    return token


def _bearer(token: tok.SessionAccessToken | we.AccessToken) -> tuple[tuple[str, str], ...]:
    return (("session-id", token.session_id), ("authorization", f"{token.type} {token.token}"))


def _load_request(name: str, **capabilities: bool) -> we.LoadSceneRequest:
    request = we.LoadSceneRequest(name=name)
    for capability, on in {"text": True, "triggers": True, **capabilities}.items():
        setattr(request.capabilities, capability, on)
    request.user.name = "Bob"
    request.client.id, request.client.version = "node-js", "1.11.0"
    return request


def _said(agent_id: str, words: str) -> pb.InworldPacket:
    """A text packet as 0.9.x builds it: target = the agent, no conversation or correlation."""
    packet = pb.InworldPacket()
    packet.timestamp.GetCurrentTime()
    packet.packet_id.packet_id = str(uuid.uuid4())
    packet.packet_id.utterance_id = str(uuid.uuid4())
    packet.packet_id.interaction_id = str(uuid.uuid4())
    packet.routing.source.type = pb.Actor.PLAYER
    packet.routing.target.type = pb.Actor.AGENT
    packet.routing.target.name = agent_id
    packet.text.text = words
    packet.text.source_type = pb.TextEvent.TYPED_IN
    packet.text.final = True
    return packet


async def _reply(call: aio.StreamStreamCall, interaction_id: str) -> list[pb.InworldPacket]:
    found = []
    while True:
        packet = await _read(call)
        assert packet.HasField("timestamp")
        assert packet.routing.HasField("target")  # the old SDKs read target.getName() always
        if packet.packet_id.interaction_id != interaction_id:
            continue
        found.append(packet)
        if packet.control.action == pb.ControlEvent.INTERACTION_END:
            return found


async def _read(call: aio.StreamStreamCall) -> pb.InworldPacket:
    packet = await asyncio.wait_for(call.read(), READ_GUARD_SECONDS)
    assert packet is not aio.EOF, "the server ended the stream"
    return packet  # type: ignore[no-any-return]


async def test_generate_session_token_signed_over_its_own_path(face: Face) -> None:
    token = await _session_token(face)
    assert token.type == "Bearer"
    assert token.session_id.startswith("ws1:")
    left = token.expiration_time.ToDatetime(dt.UTC) - dt.datetime.now(dt.UTC)
    assert left > dt.timedelta(minutes=55)  # 0.9.x renews a token with under 50 minutes left


async def test_generate_session_token_refuses_a_signature_for_another_method(face: Face) -> None:
    key, secret = await key_pair(face.app, "ws1")
    header = tokens.sign_request(
        key, secret, face.host, now=dt.datetime.now(dt.UTC), nonce="0123456789b"
    )  # signed for GenerateToken's path
    stub = tok_grpc.TokensStub(face.channel)
    with pytest.raises(aio.AioRpcError) as caught:
        await stub.GenerateSessionToken(
            tok.GenerateSessionTokenRequest(key=key), metadata=(("authorization", header),)
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "signature does not match" in (caught.value.details() or "")


async def test_load_scene_then_session_converses(face: Face, game: Game, alice: str) -> None:
    token = await _session_token(face)
    metadata = _bearer(token)
    loaded = await face.engine.LoadScene(_load_request(alice, emotions=True), metadata=metadata)
    (agent,) = loaded.agents
    assert (agent.brain_name, agent.given_name) == (alice, "Alice")
    assert agent.agent_id
    assert loaded.key

    call = face.engine.Session(metadata=metadata)
    said = _said(agent.agent_id, "Hello there")
    await call.write(said)
    reply = await _reply(call, said.packet_id.interaction_id)
    assert reply[-1].control.action == pb.ControlEvent.INTERACTION_END
    texts = [p.text.text for p in reply if p.HasField("text")]
    assert " ".join(texts) == SPEAKING[0]
    assert any(p.HasField("emotion") for p in reply)  # asked for in LoadScene
    for p in reply:
        assert p.routing.source.name == agent.agent_id
        assert p.routing.target.type == pb.Actor.PLAYER
    call.cancel()

    (stored,) = await game.store.sessions.history(token.session_id)
    assert stored.input_text == "Hello there"
    session = await game.store.sessions.get(token.session_id)
    assert session is not None
    assert session.player.name == "Bob"


async def test_a_second_session_call_resumes_without_load_scene(face: Face, alice: str) -> None:
    key, secret = await key_pair(face.app, "ws1")
    token = await access_token(face, key, secret)  # 1.5-1.11: GenerateToken
    metadata = _bearer(token)
    loaded = await face.engine.LoadScene(_load_request(alice), metadata=metadata)
    agent_id = loaded.agents[0].agent_id
    first = face.engine.Session(metadata=metadata)
    await first.write(_said(agent_id, "Hi"))
    first.cancel()

    second = face.engine.Session(metadata=metadata)  # what the SDK does after a disconnect
    said = _said(agent_id, "I am back")
    await second.write(said)
    reply = await _reply(second, said.packet_id.interaction_id)
    assert not any(p.HasField("emotion") for p in reply)  # the capabilities were kept
    assert reply[0].routing.source.name == agent_id
    second.cancel()


async def test_load_scene_continues_a_previous_dialog(face: Face, game: Game, alice: str) -> None:
    token = await _session_token(face)
    request = _load_request(alice)
    dialog = request.session_continuation.previous_dialog
    dialog.phrases.add(talker=we.PreviousDialog.PLAYER, phrase="My name is Bob.")
    dialog.phrases.add(talker=we.PreviousDialog.CHARACTER, phrase="Nice to meet you, Bob.")
    await face.engine.LoadScene(request, metadata=_bearer(token))
    history = await game.store.sessions.history(token.session_id)
    assert [(i.input_text, i.texts) for i in history] == [
        ("My name is Bob.", ("Nice to meet you, Bob.",))
    ]


async def test_session_of_an_unknown_id_is_session_invalid(face: Face) -> None:
    token = await _session_token(face)
    call = face.engine.Session(metadata=_bearer(token))
    await call.write(_said("agent-x", "Hello?"))
    with pytest.raises(aio.AioRpcError) as caught:
        await _read(call)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    (detail,) = inworld_details(caught.value)
    assert detail.error_type == inworld_status_pb2.SESSION_INVALID


async def test_load_scene_of_an_unknown_character_is_not_found(face: Face) -> None:
    token = await _session_token(face)
    with pytest.raises(aio.AioRpcError) as caught:
        await face.engine.LoadScene(
            _load_request("workspaces/ws1/characters/nobody"),
            metadata=_bearer(token),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "nobody" in (caught.value.details() or "")
    (detail,) = inworld_details(caught.value)
    assert detail.error_type == inworld_status_pb2.RESOURCE_NOT_FOUND


async def test_load_scene_needs_a_token(face: Face, alice: str) -> None:
    with pytest.raises(aio.AioRpcError) as caught:
        await face.engine.LoadScene(_load_request(alice), metadata=(("session-id", "ws1:x"),))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
