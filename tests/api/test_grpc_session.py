"""OpenSession over the in-process gRPC face: handshake, turns, interruption, reconnect, errors.

The client side is written the way the node SDK 1.17.0 behaves (spec §3.2, §3.3); the SDK
itself drives the real server in tests/conformance/test_node_sdk.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc import aio

from anima.api.grpc import serving
from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from anima.wire.pb.ai.inworld.common import status_pb2 as inworld_status_pb2
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from tests.api.engine_helpers import Game, open_game
from tests.api.grpc_helpers import (
    Face,
    Stream,
    access_token,
    cancel,
    configure,
    conversation_update,
    inworld_details,
    key_pair,
    kinds,
    load_scene,
    narrated,
    served,
    text,
    trigger,
)

SPEAKING = ("Ahoy there, traveller. The river is calm today. Climb aboard and mind the ropes.",)


@pytest.fixture
async def game(db_settings: Settings) -> AsyncIterator[Game]:
    """SQLite and PostgreSQL: the stream state lives in the store."""
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


async def _stream(face: Face, session: str | None = None) -> Stream:
    key, secret = await key_pair(face.app, "ws1")
    token = await access_token(face, key, secret)
    return Stream(face, token, session or token.session_id)


async def test_handshake_and_a_text_turn(face: Face, alice: str) -> None:
    stream = await _stream(face)
    status = await stream.open(alice)
    assert status.scene_name == alice
    (agent,) = status.agents
    assert agent.brain_name == alice  # the exact name the client asked for
    assert agent.given_name == "Alice"
    assert agent.agent_id
    await stream.converse("c1", agent.agent_id)

    said = text("c1", "Hello there")
    await stream.send(said)
    reply = await stream.reply(said.packet_id.interaction_id)

    assert kinds(reply)[-1] == "INTERACTION_END"
    texts = [p for p in reply if p.HasField("text")]
    assert " ".join(p.text.text for p in texts) == SPEAKING[0]
    assert all(p.text.source_type == pb.TextEvent.GENERATED and p.text.final for p in texts)
    assert "emotion" in kinds(reply)  # the client asked for emotions
    for p in reply:
        assert p.packet_id.conversation_id == "c1"
        assert p.routing.source.type == pb.Actor.AGENT
        assert p.routing.source.name == agent.agent_id
    for utterance in texts:  # each utterance's emotion shares its ids
        same = [p for p in reply if p.packet_id.utterance_id == utterance.packet_id.utterance_id]
        assert {p.WhichOneof("packet") for p in same} >= {"text", "emotion"}
    stream.call.cancel()


async def test_capabilities_gate_what_is_sent(face: Face, alice: str) -> None:
    stream = await _stream(face)
    status = await stream.open(alice, emotions=False)
    await stream.converse("c1", status.agents[0].agent_id)
    said = text("c1", "Hello")
    await stream.send(said)
    reply = await stream.reply(said.packet_id.interaction_id)
    assert "emotion" not in kinds(reply)
    assert "text" in kinds(reply)
    stream.call.cancel()


async def test_trigger_and_narrated_action_turns(face: Face, game: Game, alice: str) -> None:
    stream = await _stream(face)
    status = await stream.open(alice, narrated_actions=True)
    agent_id = status.agents[0].agent_id
    await stream.converse("c1", agent_id)

    fired = trigger("c1", agent_id, "greet", mood="cheerful")
    await stream.send(fired)
    reply = await stream.reply(fired.packet_id.interaction_id)
    assert kinds(reply)[-1] == "INTERACTION_END"
    assert "text" in kinds(reply)

    action = narrated("c1", "waves from the jetty")
    await stream.send(action)
    reply = await stream.reply(action.packet_id.interaction_id)
    assert kinds(reply)[-1] == "INTERACTION_END"

    history = await game.store.sessions.history(stream.session)
    assert [(i.input_kind, i.trigger, i.input_text) for i in history] == [
        ("trigger", "greet", ""),
        ("action", "", "waves from the jetty"),
    ]
    assert history[0].parameters == (("mood", "cheerful"),)
    assert history[0].agent_id == agent_id
    stream.call.cancel()


async def test_cancel_responses_interrupts_a_turn(face: Face, game: Game, alice: str) -> None:
    long_reply = " ".join(f"Sentence number {n} goes on and on." for n in range(40))
    game.use_llm(ScriptedLLM([long_reply], chunk_delay_s=0.01))
    stream = await _stream(face)
    status = await stream.open(alice, interruptions=True)
    agent_id = status.agents[0].agent_id
    await stream.converse("c1", agent_id)
    said = text("c1", "Tell me everything")
    iid = said.packet_id.interaction_id
    await stream.send(said)

    first = await stream.read_until(lambda p: p.HasField("text"))
    assert first[-1].packet_id.interaction_id == iid
    await stream.send(cancel(iid, agent_id))
    rest = await stream.reply(iid)

    assert kinds(rest)[-1] == "INTERACTION_END"  # sent for a cancelled interaction too
    (stored,) = await game.store.sessions.history(stream.session)
    assert stored.cancelled
    assert 0 < len(stored.texts) < 40
    # The session goes on.
    game.use_llm(ScriptedLLM(SPEAKING))
    again = text("c1", "Sorry, go on")
    await stream.send(again)
    assert kinds(await stream.reply(again.packet_id.interaction_id))[-1] == "INTERACTION_END"
    stream.call.cancel()


async def test_barge_in_with_interruptions_cancels_the_playing_turn(
    face: Face, game: Game, alice: str
) -> None:
    long_reply = " ".join(f"Sentence number {n} goes on and on." for n in range(40))
    game.use_llm(ScriptedLLM([long_reply, SPEAKING[0]], chunk_delay_s=0.01))
    stream = await _stream(face)
    status = await stream.open(alice, interruptions=True)
    await stream.converse("c1", status.agents[0].agent_id)
    first, second = text("c1", "Tell me everything"), text("c1", "Stop! Where is the ferry?")
    await stream.send(first)
    await stream.read_until(lambda p: p.HasField("text"))
    await stream.send(second)
    ends = []
    while len(ends) < 2:
        packet = await stream.read()
        if packet.control.action == pb.ControlEvent.INTERACTION_END:
            ends.append(packet.packet_id.interaction_id)
    assert ends == [first.packet_id.interaction_id, second.packet_id.interaction_id]
    history = await game.store.sessions.history(stream.session)
    assert [i.cancelled for i in history] == [True, False]
    stream.call.cancel()


async def test_reconnect_with_the_same_session_id_needs_no_handshake(
    face: Face, alice: str
) -> None:
    key, secret = await key_pair(face.app, "ws1")
    token = await access_token(face, key, secret)
    first = Stream(face, token, token.session_id)
    status = await first.open(alice, emotions=False)
    agent_id = status.agents[0].agent_id
    await first.converse("c1", agent_id)
    first.call.cancel()  # what the node SDK's close() does

    # spec §3.3: same token and session id, no SESSION_CONFIGURATION, no loadScene.
    second = Stream(face, token, token.session_id)
    await second.converse("c1", agent_id)
    said = text("c1", "I am back")
    await second.send(said)
    reply = await second.reply(said.packet_id.interaction_id)
    assert reply[0].routing.source.name == agent_id  # the same agent ids
    assert "emotion" not in kinds(reply)  # the capabilities were kept with the session
    second.call.cancel()


async def test_a_refreshed_token_continues_the_old_session(face: Face, alice: str) -> None:
    key, secret = await key_pair(face.app, "ws1")
    token = await access_token(face, key, secret)
    first = Stream(face, token, token.session_id)
    agent_id = (await first.open(alice)).agents[0].agent_id
    first.call.cancel()
    fresh = await access_token(face, key, secret)  # the SDK keeps its session id (spec §2.1)
    assert fresh.session_id != token.session_id
    second = Stream(face, fresh, token.session_id)
    await second.converse("c9", agent_id)
    second.call.cancel()


async def test_an_unknown_session_without_handshake_is_session_invalid(face: Face) -> None:
    stream = await _stream(face)
    await stream.send(conversation_update("c1", "agent-x"))
    error = await stream.status()
    assert error.code() == grpc.StatusCode.NOT_FOUND
    (detail,) = inworld_details(error)
    assert detail.error_type == inworld_status_pb2.SESSION_INVALID
    assert detail.reconnect_type == inworld_status_pb2.IMMEDIATE


async def test_an_unknown_character_ends_the_stream_with_not_found(face: Face) -> None:
    stream = await _stream(face)
    await stream.send(configure(), load_scene("workspaces/ws1/characters/nobody"))
    error = await stream.status()
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "nobody" in (error.details() or "")
    (detail,) = inworld_details(error)
    assert detail.error_type == inworld_status_pb2.RESOURCE_NOT_FOUND


async def test_a_scene_of_another_workspace_is_refused(face: Face, alice: str) -> None:
    stream = await _stream(face)
    await stream.send(configure(), load_scene("workspaces/other/characters/x"))
    error = await stream.status()
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("token", ["", "Bearer nonsense", "Bearer v1.AAAAAAAAAAAA.xyz"])
async def test_a_missing_or_bad_token_is_unauthenticated(face: Face, token: str) -> None:
    metadata = [("session-id", "ws1:" + str(uuid.uuid4()))]
    if token:
        metadata.append(("authorization", token))
    call = face.engine.OpenSession(metadata=tuple(metadata))
    await call.write(configure())
    with pytest.raises(aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    (detail,) = inworld_details(caught.value)
    assert detail.error_type == inworld_status_pb2.SESSION_TOKEN_INVALID


async def test_a_session_of_another_workspace_is_denied(face: Face) -> None:
    stream = await _stream(face, session="other-ws:" + str(uuid.uuid4()))
    await stream.send(configure())
    error = await stream.status()
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_server_shutdown_ends_open_streams_with_an_error(game: Game, alice: str) -> None:
    async with serving(game.app.state.anima, port=0) as port:
        channel = aio.insecure_channel(f"127.0.0.1:{port}")  # outlives the server
        stream = await _stream(Face(game.app, port or 0, channel))
        await stream.open(alice)
        stopping = asyncio.ensure_future(stream.status())
    error = await stopping
    await channel.close()
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # never OK: the SDK must notice
    assert "shutting down" in (error.details() or "")


async def test_a_session_opened_over_rest_continues_over_grpc(face: Face, game: Game) -> None:
    character = await game.character("Bert")
    opened = await game.open(character)
    session_id = opened["name"].rsplit("/", 1)[-1]
    agent_id = opened["sessionCharacters"][0]["character"]
    stream = await _stream(face, session=session_id)
    await stream.converse("c1", agent_id)
    said = text("c1", "Hello Bert")
    await stream.send(said)
    reply = await stream.reply(said.packet_id.interaction_id)
    assert reply[0].routing.source.name == agent_id
    stream.call.cancel()


async def test_server_pings_with_ping_pong_report(settings: Settings) -> None:
    fast = settings.model_copy(update={"stream_ping_seconds": 0.05})
    async with open_game(fast) as game, served(game.app) as face:
        scene = f"workspaces/ws1/characters/{await game.character('Alice')}"
        stream = await _stream(face)
        await stream.open(scene, ping_pong_report=True)
        packets = await stream.read_until(lambda p: p.HasField("latency_report"))
        ping = packets[-1].latency_report.ping_pong
        assert ping.type == pb.PingPongReport.PING
        assert ping.HasField("ping_timestamp")  # mandatory for the web SDK
        stream.call.cancel()
