"""The WebSocket face in process: handshake, turns, conversations, cancellation, reconnects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from tests.api.websocket_helpers import Rig, is_control, open_rig, packet

GOALS = """
goals:
  - name: greet
    repeatable: true
    activation: {trigger: player_arrived}
    actions:
      - say_verbatim: "Mind the mud, {player}."
        send_trigger: greeted
"""


@pytest.fixture
def rig(db_settings: Settings) -> Iterator[Rig]:
    with open_rig(db_settings) as r:
        yield r


def _texts(reply: list[dict[str, Any]]) -> str:
    return " ".join(p["text"]["text"] for p in reply if "text" in p)


def _agents(status: dict[str, Any]) -> dict[str, str]:
    """given name -> agent id"""
    return {a["givenName"]: a["agentId"] for a in status["control"]["currentSceneStatus"]["agents"]}


def test_handshake_scene_status_and_a_turn(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["Hello there, {player}. Fine weather!"]))
    alice = rig.character("Alice")
    with rig.connect() as sock:
        status = sock.handshake(alice, user={"id": "user-1", "name": "Bob"})
        scene = status["control"]["currentSceneStatus"]
        assert scene["sceneName"] == alice
        [agent] = scene["agents"]
        assert agent["brainName"] == alice
        assert agent["givenName"] == "Alice"
        assert status["packetId"]["packetId"]
        assert status["timestamp"]
        cid = sock.conversation(agent["agentId"])
        iid = sock.say("hello", cid)
        reply = sock.reply(iid)
    assert _texts(reply) == "Hello there, Bob. Fine weather!"
    for p in reply:
        assert p["packetId"]["packetId"]
        assert p["timestamp"]
        assert p["packetId"]["conversationId"] == cid
        assert p["packetId"]["interactionId"] == iid
    assert reply[-1]["control"]["action"] == "INTERACTION_END"
    texts = [p for p in reply if "text" in p]
    emotions = [p for p in reply if "emotion" in p]
    assert emotions, "emotions were asked for"
    assert {e["packetId"]["utteranceId"] for e in emotions} == {
        t["packetId"]["utteranceId"] for t in texts
    }
    assert all(t["routing"]["source"] == {"type": "AGENT", "name": agent["agentId"]} for t in texts)


def test_no_logs_unless_asked(rig: Rig) -> None:
    alice = rig.character("Alice")
    for caps in ({"logs": True, "logsWarning": True, "logsInfo": True}, {"logsDebug": True}):
        with rig.connect() as sock:
            agent = _agents(sock.handshake(alice, caps))["Alice"]
            sock.reply(sock.say("hello", sock.conversation(agent)))
        assert not [f for f in sock.received if "log" in f.get("result", {})]


def test_emotions_and_narrated_actions_only_when_asked(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["*tips his hat* Good day to you."]))
    tony = rig.character("Tony", description={"narrativeActionsEnabled": True})
    for caps, gated in ({"emotions": True, "narratedActions": True}, True), ({}, False):
        with rig.connect() as sock:
            status = sock.handshake(tony, caps)
            cid = sock.conversation(_agents(status)["Tony"])
            reply = sock.reply(sock.say("hi", cid))
        actions = [p["action"]["narratedAction"]["content"] for p in reply if "action" in p]
        assert actions == (["tips his hat"] if gated else [])
        assert any("emotion" in p for p in reply) is gated
        assert _texts(reply) == "Good day to you."


def test_narrated_action_and_triggers_in_and_trigger_out(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["Oh, a wave back to you!"]))
    tony = rig.character("Tony", yamlConfig=GOALS)
    with rig.connect() as sock:
        status = sock.handshake(tony, user={"name": "Bob"})
        agent = _agents(status)["Tony"]
        cid = sock.conversation(agent)
        iid = str(uuid.uuid4())
        sock.send(
            packet(
                {
                    "routing": {"source": {"type": "PLAYER"}},
                    "action": {"narratedAction": {"content": "waves"}},
                },
                interactionId=iid,
                conversationId=cid,
            )
        )
        assert _texts(sock.reply(iid)) == "Oh, a wave back to you!"
        iid = str(uuid.uuid4())
        sock.send(
            packet(
                {
                    "routing": {
                        "source": {"type": "PLAYER"},
                        "target": {"type": "AGENT", "name": agent},
                    },
                    "custom": {"name": "player_arrived", "type": "TRIGGER"},
                },
                interactionId=iid,
                conversationId=cid,
            )
        )
        reply = sock.reply(iid)
    assert _texts(reply) == "Mind the mud, Bob."
    triggers = [p["custom"] for p in reply if "custom" in p]
    assert "greeted" in [t["name"] for t in triggers]
    assert all(t["type"] == "TRIGGER" for t in triggers)
    prompt = str(rig.app.state.anima.engine.turns.llm.prompts[0])
    assert "waves" in prompt


def test_cancel_responses_stops_the_turn_and_ends_the_interaction(rig: Rig) -> None:
    llm = ScriptedLLM(["One. Two. Three. " * 30], chunk_delay_s=0.02)
    rig.use_llm(llm)
    alice = rig.character("Alice")
    with rig.connect() as sock:
        status = sock.handshake(alice)
        cid = sock.conversation(_agents(status)["Alice"])
        iid = sock.say("count for me", cid)
        sock.until(lambda f: "text" in f.get("result", {}))
        sent = llm.chunks_sent
        sock.send(
            packet(
                {
                    "routing": {"source": {"type": "PLAYER"}, "target": {"type": "WORLD"}},
                    "mutation": {"cancelResponses": {"interactionId": iid}},
                }
            )
        )
        rest = sock.reply(iid)
        assert rest[-1]["control"]["action"] == "INTERACTION_END"
        # the session goes on: the next interaction is answered in full
        llm.replies[0] = type(llm.replies[0])("Done.")
        assert _texts(sock.reply(sock.say("again", cid))) == "Done."
    assert llm.chunks_sent < sent + 60  # stopped long before the ~90 words of the reply
    [first, second] = rig.run(rig.store.sessions.history(sock.session_id))
    assert first.cancelled
    assert not second.cancelled


def test_barge_in_with_interruptions(rig: Rig) -> None:
    llm = ScriptedLLM(["La la la. " * 40, "Yes?"], chunk_delay_s=0.02)
    rig.use_llm(llm)
    alice = rig.character("Alice")
    with rig.connect() as sock:
        status = sock.handshake(alice, {"interruptions": True})
        cid = sock.conversation(_agents(status)["Alice"])
        first = sock.say("sing", cid)
        sock.until(lambda f: "text" in f.get("result", {}))
        second = sock.say("stop!", cid)
        ended = sock.reply(first)
        assert ended[-1]["control"]["action"] == "INTERACTION_END"
        assert _texts(sock.reply(second)) == "Yes?"


def test_reconnect_resumes_without_handshake(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["First answer.", "Second answer."]))
    alice = rig.character("Alice")
    token = rig.token()
    with rig.connect(token) as sock:
        status = sock.handshake(alice, {"emotions": True})
        agent = _agents(status)["Alice"]
        cid = sock.conversation(agent)
        assert _texts(sock.reply(sock.say("one", cid))) == "First answer."
    with rig.connect(token) as sock:  # same session id and token, no configuration, no loadScene
        sock.conversation(agent, conversation_id=cid)
        event = sock.received[-1]["result"]["control"]["conversationEvent"]
        assert event["eventType"] == "UPDATED"
        reply = sock.reply(sock.say("two", cid))
    assert _texts(reply) == "Second answer."
    assert any("emotion" in p for p in reply)  # capabilities kept with the session
    prompt = str(rig.app.state.anima.engine.turns.llm.prompts[-1])
    assert "First answer." in prompt


def test_unknown_session_without_configuration_is_session_invalid(rig: Rig) -> None:
    with rig.connect() as sock:
        sock.send(
            packet(
                {
                    "control": {
                        "action": "CONVERSATION_UPDATE",
                        "conversationUpdate": {"participants": []},
                    }
                },
                conversationId="c1",
            )
        )
        [frame] = sock.closed()
    [detail] = frame["error"]["details"]
    assert detail["errorType"] == "SESSION_INVALID"
    assert detail["reconnectType"] == "IMMEDIATE"
    assert sock.close_code == 1000


def test_rest_session_is_usable_over_the_socket(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["From the socket."]))
    alice = rig.character("Alice")
    session = rig.ok("POST", f"/v1/{alice}:openSession", json={"name": alice})
    token = rig.token()
    with rig.connect(token, session_id=session["name"]) as sock:
        agent = session["sessionCharacters"][0]["character"]
        cid = sock.conversation(agent)
        assert _texts(sock.reply(sock.say("hi", cid))) == "From the socket."


def test_load_and_unload_characters_and_change_scene(rig: Rig) -> None:
    alice, bob, carol = rig.character("Alice"), rig.character("Bob"), rig.character("Carol")
    with rig.connect() as sock:
        first = _agents(sock.handshake(alice))
        sock.send(
            packet(
                {
                    "routing": {"source": {"type": "PLAYER"}, "target": {"type": "WORLD"}},
                    "mutation": {"loadCharacters": {"name": [{"name": bob}]}},
                }
            )
        )
        status = sock.until(is_control("CURRENT_SCENE_STATUS"))[-1]["result"]
        both = _agents(status)
        assert set(both) == {"Alice", "Bob"}
        assert both["Alice"] == first["Alice"]
        assert {a["brainName"] for a in status["control"]["currentSceneStatus"]["agents"]} == {
            alice,
            bob,
        }
        sock.send(
            packet(
                {
                    "routing": {"source": {"type": "PLAYER"}, "target": {"type": "WORLD"}},
                    "mutation": {"unloadCharacters": {"agents": [{"agentId": both["Bob"]}]}},
                }
            )
        )
        assert _agents(sock.until(is_control("CURRENT_SCENE_STATUS"))[-1]["result"]) == first
        scene = rig.scene("The Ferry", [alice, carol])
        sock.send(packet({"mutation": {"loadScene": {"name": scene}}}))
        status = sock.until(is_control("CURRENT_SCENE_STATUS"))[-1]["result"]
    changed = status["control"]["currentSceneStatus"]
    assert changed["sceneName"] == scene
    assert changed["sceneDisplayName"] == "The Ferry"
    assert changed["sceneDescription"] == "A muddy riverbank at dusk."
    agents = _agents(status)
    assert set(agents) == {"Alice", "Carol"}
    assert agents["Alice"] == first["Alice"]  # stays stable across the scene change


def test_scene_with_two_characters(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["I am {character}."]))
    scene = rig.scene("The Ferry", [rig.character("Tony"), rig.character("Anna")])
    with rig.connect() as sock:
        agents = _agents(sock.handshake(scene))
        cid = sock.conversation(agents["Tony"], agents["Anna"])
        anna = sock.reply(sock.say("Anna, who are you?", cid))
        assert _texts(anna) == "I am Anna."
        assert anna[0]["routing"]["source"]["name"] == agents["Anna"]
        iid = str(uuid.uuid4())
        sock.send(
            packet(
                {"custom": {"name": "inworld.conversation.next_turn", "type": "TRIGGER"}},
                interactionId=iid,
                conversationId=cid,
            )
        )
        tony = sock.reply(iid)
    assert _texts(tony) == "I am Tony."
    assert tony[0]["routing"]["source"]["name"] == agents["Tony"]


def test_history_logs_ping_and_latency(db_settings: Settings) -> None:
    with open_rig(db_settings.model_copy(update={"stream_ping_seconds": 0.05})) as rig:
        rig.use_llm(ScriptedLLM(["Hello, traveller."]))
        alice = rig.character("Alice")
        caps = {"pingPongReport": True, "logs": True, "logsInfo": True, "logsDebug": True}
        with rig.connect() as sock:
            agent = _agents(sock.handshake(alice, caps))["Alice"]
            ping = sock.until(lambda f: "latencyReport" in f.get("result", {}))[-1]["result"]
            assert ping["latencyReport"]["pingPong"]["type"] == "PING"
            assert ping["latencyReport"]["pingPong"]["pingTimestamp"]
            sock.send(
                packet(
                    {
                        "routing": {"source": {"type": "PLAYER"}},
                        "latencyReport": {
                            "pingPong": {
                                "type": "PONG",
                                "pingPacketId": {"packetId": ping["packetId"]["packetId"]},
                                "pingTimestamp": ping["latencyReport"]["pingPong"]["pingTimestamp"],
                            }
                        },
                    }
                )
            )
            cid = sock.conversation(agent)
            iid = sock.say("hello", cid)
            reply = sock.reply(iid)
            sock.send(
                packet(
                    {
                        "latencyReport": {
                            "perceivedLatency": {"latency": "0.250s", "precision": "ESTIMATED"}
                        }
                    },
                    interactionId=iid,
                )
            )
            sock.send(packet({"sessionControl": {"sessionHistoryRequest": {}}}))
            history = sock.until(lambda f: "sessionControlResponse" in f.get("result", {}))[-1]
            session_id = sock.session_id
        logs = [f["result"]["log"] for f in sock.received if "log" in f.get("result", {})]
        assert any(log["level"] == "DEBUG" and iid in log["text"] for log in logs)
        [item] = history["result"]["sessionControlResponse"]["sessionHistory"][
            "sessionHistoryItems"
        ]
        assert item["agent"]["agentId"] == agent
        said = [(p["routing"]["source"]["type"], p["text"]["text"]) for p in item["packets"]]
        assert said == [("PLAYER", "hello"), ("AGENT", "Hello, traveller.")]
        assert _texts(reply) == "Hello, traveller."
        session = rig.run(rig.store.sessions.get(session_id))
        assert session is not None
        [latency] = session.stream_state["latencies"]
        assert latency == {"interactionId": iid, "seconds": 0.25, "precision": "ESTIMATED"}
