"""One session core, two faces: a session opened over WebSocket continues over gRPC and back.

The app runs in starlette's TestClient with its gRPC face on a free port (the lifespan starts
both on the same loop); the gRPC client is grpcio's blocking one, fed from a queue.
"""

from __future__ import annotations

import queue
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest

from anima.app import create_app
from anima.backends.scripted import ScriptedLLM
from anima.domain.credentials import Scope, new_key_pair
from anima.settings import Settings
from anima.store import Store
from anima.wire.pb.ai.inworld.engine import world_engine_pb2_grpc as we_grpc
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from tests.api.grpc_helpers import configure, conversation_update, load_scene, text
from tests.api.websocket_helpers import WS, Rig, TestClient

CALL_GUARD_SECONDS = 60.0  # a deadline so a broken server fails the test instead of hanging it


class GrpcSession:
    """A blocking OpenSession call: ``send`` packets, ``read`` until one matches."""

    def __init__(self, channel: grpc.Channel, token: dict[str, Any], session_id: str) -> None:
        self._outgoing: queue.Queue[pb.InworldPacket | None] = queue.Queue()
        metadata = (("session-id", session_id), ("authorization", f"Bearer {token['token']}"))
        self._call = we_grpc.WorldEngineStub(channel).OpenSession(
            iter(self._outgoing.get, None), metadata=metadata, timeout=CALL_GUARD_SECONDS
        )

    def send(self, *packets: pb.InworldPacket) -> None:
        for packet in packets:
            self._outgoing.put(packet)

    def until(self, done: Any) -> list[pb.InworldPacket]:
        found = []
        for packet in self._call:
            found.append(packet)
            if done(packet):
                return found
        raise AssertionError(f"the stream ended: {found[-3:]}")

    def reply(self, interaction_id: str) -> list[pb.InworldPacket]:
        packets = self.until(
            lambda p: (
                p.control.action == pb.ControlEvent.INTERACTION_END
                and p.packet_id.interaction_id == interaction_id
            )
        )
        return [p for p in packets if p.packet_id.interaction_id == interaction_id]

    def close(self) -> None:
        self._call.cancel()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def both_faces(settings: Settings) -> Iterator[tuple[Rig, grpc.Channel]]:
    port = _free_port()
    app = create_app(settings.model_copy(update={"grpc_port": port}), serve_grpc=True)
    with TestClient(app) as client:
        rig = Rig(app, client, {})

        async def key() -> str:
            store: Store = app.state.anima.store
            await store.keys.ensure_workspace(WS)
            pair = new_key_pair()
            await store.keys.add(WS, Scope.ALL, pair)
            return pair.basic

        rig.auth = {"Authorization": f"Basic {rig.run(key())}"}
        rig.use_llm(ScriptedLLM(["Aye, the ferry runs at noon.", "Welcome back, friend."]))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield rig, channel


@pytest.fixture
def faces(settings: Settings) -> Iterator[tuple[Rig, grpc.Channel]]:
    with both_faces(settings) as pair:
        yield pair


def test_a_websocket_session_continues_over_grpc(faces: tuple[Rig, grpc.Channel]) -> None:
    rig, channel = faces
    scene = rig.character("Alice")
    token = rig.token()
    with rig.connect(token) as ws:
        status = ws.handshake(scene)
        agent_id = status["control"]["currentSceneStatus"]["agents"][0]["agentId"]
        cid = ws.conversation(agent_id)
        ws.reply(ws.say("When does the ferry run?", cid))

    # The node SDK reconnecting: same session id and token, no configuration, no loadScene.
    stream = GrpcSession(channel, token, token["sessionId"])
    stream.send(conversation_update(cid, agent_id))
    stream.until(lambda p: p.control.HasField("conversation_event"))
    said = text(cid, "I came back by the other door")
    stream.send(said)
    reply = stream.reply(said.packet_id.interaction_id)
    stream.close()

    assert reply[-1].control.action == pb.ControlEvent.INTERACTION_END
    assert {p.routing.source.name for p in reply} == {agent_id}  # the same agent id
    assert any(p.HasField("emotion") for p in reply)  # capabilities kept with the session
    history = rig.run(rig.store.sessions.history(token["sessionId"]))
    assert [i.input_text for i in history] == [
        "When does the ferry run?",
        "I came back by the other door",
    ]


def test_a_grpc_session_continues_over_websocket(faces: tuple[Rig, grpc.Channel]) -> None:
    rig, channel = faces
    scene = rig.character("Alice")
    token = rig.token()
    stream = GrpcSession(channel, token, token["sessionId"])
    stream.send(configure(emotions=False), load_scene(scene))
    status = stream.until(lambda p: p.control.HasField("current_scene_status"))[-1]
    agent_id = status.control.current_scene_status.agents[0].agent_id
    stream.send(conversation_update("c1", agent_id))
    stream.until(lambda p: p.control.HasField("conversation_event"))
    said = text("c1", "When does the ferry run?")
    stream.send(said)
    stream.reply(said.packet_id.interaction_id)
    stream.close()

    with rig.connect(token) as ws:
        cid = ws.conversation(agent_id, conversation_id="c1")
        reply = ws.reply(ws.say("Back again, over the web", cid))
    assert {p["routing"]["source"]["name"] for p in reply} == {agent_id}
    assert not any("emotion" in p for p in reply)  # emotions were turned off over gRPC
    history = rig.run(rig.store.sessions.history(token["sessionId"]))
    assert [i.input_text for i in history] == [
        "When does the ferry run?",
        "Back again, over the web",
    ]
