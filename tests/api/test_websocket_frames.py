"""Malformed frames and fatal errors: a WARNING or an error frame, never a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from tests.api.websocket_helpers import Rig, configuration, is_control, open_rig, packet


@pytest.fixture
def rig(settings: Settings) -> Iterator[Rig]:
    with open_rig(settings.model_copy(update={"max_body_bytes": 4096})) as r:
        r.use_llm(ScriptedLLM(["Still here."]))
        yield r


def _warnings(frames: list[dict[str, Any]]) -> list[str]:
    return [f["result"]["control"]["description"] for f in frames if is_control("WARNING")(f)]


def test_garbage_gets_warnings_and_the_session_goes_on(rig: Rig) -> None:
    alice = rig.character("Alice")
    with rig.connect() as sock:
        agent = sock.handshake(alice)["control"]["currentSceneStatus"]["agents"][0]["agentId"]
        cid = sock.conversation(agent)
        bad: list[str | dict[str, Any]] = [
            "this is not json",
            "[1, 2, 3]",
            json.dumps({"text": {"text": 5, "final": "maybe"}}),
            "x" * 5000,  # over max_body_bytes
        ]
        for frame in bad:
            sock.send(frame)
        sock.ws.send_bytes(b"\xff\xfe not utf-8")
        sock.send({"someFutureField": {"a": 1}})  # unknown payload: ignored quietly
        sock.send(packet({}))  # payload-less packet
        iid = sock.say("are you there?", cid)
        reply = sock.reply(iid)
    warnings = _warnings(sock.received)
    assert len(warnings) == 5, warnings
    assert any("JSON" in w for w in warnings)
    assert any("larger than the limit of 4096 bytes" in w for w in warnings)
    assert " ".join(p["text"]["text"] for p in reply if "text" in p) == "Still here."
    assert "error" not in json.dumps(sock.received[:1])


def test_packets_before_the_scene_loads(rig: Rig) -> None:
    alice = rig.character("Alice")
    with rig.connect() as sock:
        sock.send(configuration())
        sock.send(
            packet(
                {"text": {"text": "too early", "final": True}},
                interactionId="i-early",
                conversationId="c1",
            )
        )
        early = sock.until(is_control("INTERACTION_END"))
        assert early[-1]["result"]["packetId"]["interactionId"] == "i-early"
        assert any("load a scene" in w for w in _warnings(early))
        agents = sock.handshake(alice)["control"]["currentSceneStatus"]["agents"]
        assert len(agents) == 1


def test_bad_token_is_an_error_frame_then_close(rig: Rig) -> None:
    token = rig.token()
    forged = {**token, "token": token["token"][:-4] + "AAAA"}
    with rig.connect(forged) as sock:
        [frame] = sock.closed()
    error = frame["error"]
    assert error["code"] == 16
    [detail] = error["details"]
    assert detail["errorType"] == "SESSION_TOKEN_INVALID"
    assert detail["reconnectType"] == "IMMEDIATE"


def test_no_subprotocols_is_an_error_frame(rig: Rig) -> None:
    token = rig.token()
    with rig.client.websocket_connect(f"/v1/session/open?session_id={token['sessionId']}") as ws:
        message = json.loads(ws.receive_text())
        assert message["error"]["code"] == 16
        assert ws.receive()["type"] == "websocket.close"


def test_accepts_with_the_first_subprotocol(rig: Rig) -> None:
    token = rig.token()
    with rig.client.websocket_connect(
        f"/v1/session/open?session_id={token['sessionId']}",
        subprotocols=["Bearer", token["token"]],
    ) as ws:
        assert ws.accepted_subprotocol == "Bearer"
        ws.close(1000)
        assert ws.receive()["type"] == "websocket.close"  # the server is done with it


def test_session_of_another_workspace_is_refused(rig: Rig) -> None:
    with rig.connect(session_id="other-ws:123") as sock:
        [frame] = sock.closed()
    assert frame["error"]["code"] == 7  # PERMISSION_DENIED


def test_unknown_character_is_an_error_and_other_sessions_go_on(rig: Rig) -> None:
    alice = rig.character("Alice")
    with rig.connect() as good:
        agent = good.handshake(alice)["control"]["currentSceneStatus"]["agents"][0]["agentId"]
        cid = good.conversation(agent)
        with rig.connect() as bad:
            bad.send(configuration())
            bad.send(
                packet({"mutation": {"loadScene": {"name": "workspaces/ws1/characters/nobody"}}})
            )
            [frame] = bad.closed()
        assert frame["error"]["code"] == 5
        assert "nobody" in frame["error"]["message"]
        with rig.connect() as wrong:
            wrong.send(packet({"mutation": {"loadScene": {"name": "characters/alice"}}}))
            [frame] = wrong.closed()
        assert frame["error"]["code"] == 3
        reply = good.reply(good.say("hello?", cid))
    assert reply[-1]["control"]["action"] == "INTERACTION_END"


def test_conversation_with_unknown_agents_keeps_the_known_ones(rig: Rig) -> None:
    alice = rig.character("Alice")
    with rig.connect() as sock:
        agent = sock.handshake(alice)["control"]["currentSceneStatus"]["agents"][0]["agentId"]
        sock.send(
            packet(
                {
                    "control": {
                        "action": "CONVERSATION_UPDATE",
                        "conversationUpdate": {
                            "participants": [
                                {"name": agent, "type": "AGENT"},
                                {"name": "ghost", "type": "AGENT"},
                                {"type": "PLAYER"},
                            ]
                        },
                    }
                },
                conversationId="c1",
            )
        )
        frames = sock.until(is_control("CONVERSATION_EVENT"))
    event = frames[-1]["result"]["control"]["conversationEvent"]
    assert event["eventType"] == "STARTED"
    assert [p.get("name") for p in event["participants"]] == [agent, None]
    assert any("ghost" in w for w in _warnings(frames))
