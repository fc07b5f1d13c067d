"""Topic safety through the engine: the player's line deflected, a reply cut before an unsafe
sentence, on REST, WebSocket and gRPC; the audit in the trace, the state view, the metrics and
the Studio's safety events, each workspace seeing only its own.

The scripted model says something unsafe mid-reply. These run on the hashing embedder, whose
safety classifier is the lexicon alone (explicit profanity, alcohol words): the classifier
over MiniLM is tested in test_safety_minilm.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from anima.backends.scripted import ScriptedLLM
from anima.pipeline.guards import REFUSALS
from anima.settings import Settings
from tests.api.engine_helpers import V1, Game, open_game
from tests.api.grpc_helpers import configure, conversation_update, load_scene, text
from tests.api.test_grpc_faces import GrpcSession, both_faces
from tests.api.websocket_helpers import Rig
from tests.conftest import make_key

UNSAFE = "Fuck this fucking river, you shithead."
MID_REPLY = f"Aye, the ferry runs at noon. {UNSAFE} Come back tomorrow."
STUDIO = "/studio/v1/workspaces/ws1/characters"


def is_refusal(line: str) -> bool:
    bodies = [b.split("{")[0] for b in REFUSALS]
    return any(b[1:] in line for b in bodies)


@pytest.fixture
async def game(db_settings: Settings) -> AsyncIterator[Game]:
    async with open_game(db_settings) as g:
        g.use_llm(ScriptedLLM([MID_REPLY]))
        yield g


async def _talk(game: Game, character: str) -> tuple[str, str]:
    s = await game.open(character, {"endUserId": "p1", "givenName": "Sherlock"})
    return s["name"], s["sessionCharacters"][0]["character"]


async def _interactions(game: Game, sid: str) -> list[dict[str, Any]]:
    body = await game.ok(
        "GET", f"{V1}/sessions/{sid}/interactions", headers={"Grpc-Metadata-session-id": sid}
    )
    return list(body["interactions"])


async def test_a_blocked_player_line_is_deflected_in_character_without_the_model(
    game: Game,
) -> None:
    ferry = await game.character(
        "Charon",
        description={"hobbyOrInterests": ["river stones"], "exampleDialogStyle": 1},
    )
    sid, agent = await _talk(game, ferry)
    before = len(game.llm.prompts)
    r = await game.send_text(sid, agent, "Fuck you, you worthless piece of shit.")
    assert r.status_code == 200, r.text
    (line,) = r.json()["textList"]
    assert is_refusal(line), line
    assert "Sherlock" in line or "river stones" in line  # its own words, not a stock refusal
    assert len(game.llm.prompts) == before, "the model is never asked about the topic"

    (stored,) = await _interactions(game, sid)
    (verdict,) = stored["trace"]["safety"]
    assert verdict == {
        "topic": "profanity",
        "score": 0.6,
        "level": "mild",
        "action": "block",
        "side": "player",
        "text": "Fuck you, you worthless piece of shit.",
    }
    # varied: another blocked line gets another deflection than the one just said
    again = (await game.send_text(sid, agent, "Shut the fuck up, asshole.")).json()["textList"]
    assert again != [line]


async def test_an_unsafe_sentence_mid_reply_is_never_sent_and_the_reply_ends(game: Game) -> None:
    ferry = await game.character("Charon")
    sid, agent = await _talk(game, ferry)
    r = await game.send_text(sid, agent, "When does the ferry run?")
    assert r.json()["textList"] == ["Aye, the ferry runs at noon."]
    assert game.llm.chunks_sent < len(MID_REPLY.split()), "generation stopped at the block"

    (stored,) = await _interactions(game, sid)
    assert "fuck" not in str(stored).lower(), "no road back to a client, the trace included"
    assert {"topic": "profanity", "side": "reply", "action": "block"}.items() <= (
        stored["trace"]["safety"][-1].items()
    )
    # the history keeps what was said: the next prompt carries the sentence sent, not the rest
    await game.send_text(sid, agent, "Thank you.")
    prompt = str(game.llm.prompts[-1])
    assert "Aye, the ferry runs at noon." in prompt
    assert "shithead" not in prompt
    assert "Come back tomorrow" not in prompt


async def test_an_unsafe_first_sentence_is_replaced_by_a_deflection(game: Game) -> None:
    game.use_llm(ScriptedLLM([f"{UNSAFE} The ferry runs at noon."]))
    ferry = await game.character("Charon")
    sid, agent = await _talk(game, ferry)
    (line,) = (await game.send_text(sid, agent, "When does the ferry run?")).json()["textList"]
    assert is_refusal(line), line
    assert "noon" not in line


async def test_no_control_lets_the_topic_through(game: Game) -> None:
    ferry = await game.character(
        "Charon", safetyConfig={"TOPIC_PROFANITY": "SAFETY_LEVEL_NO_CONTROL"}
    )
    sid, agent = await _talk(game, ferry)
    said = (await game.send_text(sid, agent, "Fuck, what a day.")).json()["textList"]
    assert said == ["Aye, the ferry runs at noon.", UNSAFE, "Come back tomorrow."]
    (stored,) = await _interactions(game, sid)
    actions = {(v["side"], v["level"], v["action"]) for v in stored["trace"]["safety"]}
    assert actions == {("player", "no_control", "allow"), ("reply", "no_control", "allow")}


async def test_strict_blocks_a_mention_that_mild_allows(game: Game) -> None:
    game.use_llm(ScriptedLLM(["Coming right up."]))
    strict = await game.character(
        "Mira", safetyConfig=[{"key": "TOPIC_ALCOHOL", "value": "SAFETY_LEVEL_STRICT_CONTROL"}]
    )
    mild = await game.character("Olga")  # unset: MILD by default
    line = "Pour me a mug of your finest ale, barkeep."
    sid, agent = await _talk(game, strict)
    (said,) = (await game.send_text(sid, agent, line)).json()["textList"]
    assert is_refusal(said)
    sid, agent = await _talk(game, mild)
    assert (await game.send_text(sid, agent, line)).json()["textList"] == ["Coming right up."]
    (stored,) = await _interactions(game, sid)
    assert stored["trace"]["safety"][0] | {"score": 0} == {
        "topic": "alcohol",
        "score": 0,
        "level": "mild",
        "action": "allow",
        "side": "player",
        "text": line,
    }


async def test_the_state_view_metrics_and_studio_events(game: Game) -> None:
    ferry = await game.character("Charon")
    sid, agent = await _talk(game, ferry)
    await game.send_text(sid, agent, "Fuck you, you worthless piece of shit.")
    await game.send_text(sid, agent, "When does the ferry run?")

    state = await game.ok(
        "GET",
        f"{V1}/sessions/{sid}/sessionCharacters/{agent}/state",
        headers={"Grpc-Metadata-session-id": sid},
    )
    assert [(v["side"], v["topic"], v["action"]) for v in state["safety"]] == [
        ("player", "profanity", "block"),
        ("reply", "profanity", "block"),
    ]

    metrics = (await game.client.get("/metrics")).text
    assert 'anima_safety_verdicts_total{action="block",side="player",topic="profanity"} 1.0' in (
        metrics
    )
    assert 'anima_safety_verdicts_total{action="block",side="reply",topic="profanity"} 1.0' in (
        metrics
    )

    events = (await game.ok("GET", f"{STUDIO}/{ferry}/safetyEvents"))["safetyEvents"]
    assert [(e["side"], e["action"]) for e in events] == [("reply", "block"), ("player", "block")]
    assert events[0]["session"] == f"workspaces/ws1/sessions/{sid}"
    assert "text" not in events[0]  # a blocked reply sentence is never stored
    assert events[1]["text"] == "Fuck you, you worthless piece of shit."
    assert events[1]["createTime"].endswith("Z")
    only = await game.ok("GET", f"{STUDIO}/{ferry}/safetyEvents?action=block&pageSize=1")
    assert len(only["safetyEvents"]) == 1


async def test_safety_events_are_workspace_isolated_and_checked(game: Game) -> None:
    ferry = await game.character("Charon")
    sid, agent = await _talk(game, ferry)
    await game.send_text(sid, agent, "Fuck you, you worthless piece of shit.")
    other = await make_key(game.app, "ws2")
    r = await game.client.get(f"{STUDIO}/{ferry}/safetyEvents", headers={"Authorization": other})
    assert r.status_code == 403
    # ws2's own path to the same character id: no such character there, and nothing leaks
    r = await game.client.get(
        f"/studio/v1/workspaces/ws2/characters/{ferry}/safetyEvents",
        headers={"Authorization": other},
    )
    assert r.status_code == 404
    assert r.json()["error"]["status"] == "NOT_FOUND"
    r = await game.call("GET", f"{STUDIO}/{ferry}/safetyEvents?action=maybe")
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"
    r = await game.call("GET", f"{STUDIO}/{ferry}/safetyEvents?pageSize=many")
    assert r.status_code == 400


# -- the streaming faces -------------------------------------------------------------------


def _all_text(packets: list[dict[str, Any]]) -> str:
    return " ".join(p.get("text", {}).get("text", "") for p in packets)


def test_websocket_and_grpc_clients_never_receive_the_unsafe_sentence(
    settings: Settings,
) -> None:
    with both_faces(settings) as (rig, channel):
        rig.use_llm(ScriptedLLM([MID_REPLY]))
        _over_websocket(rig)
        _over_grpc(rig, channel)


def _over_websocket(rig: Rig) -> None:
    scene = rig.character("Alice")
    with rig.connect(rig.token()) as ws:
        status = ws.handshake(scene)
        agent_id = status["control"]["currentSceneStatus"]["agents"][0]["agentId"]
        cid = ws.conversation(agent_id)
        reply = ws.reply(ws.say("When does the ferry run?", cid))
        said = _all_text(reply)
        assert "Aye, the ferry runs at noon." in said
        assert "shithead" not in said
        assert "Come back tomorrow" not in said
        refused = _all_text(ws.reply(ws.say("Fuck you, you worthless piece of shit.", cid)))
        assert is_refusal(refused), refused


def _over_grpc(rig: Rig, channel: grpc.Channel) -> None:
    scene = rig.character("Bob")
    token = rig.token()
    stream = GrpcSession(channel, token, token["sessionId"])
    try:
        stream.send(configure(), load_scene(scene))
        status = stream.until(lambda p: p.control.HasField("current_scene_status"))[-1]
        agent_id = status.control.current_scene_status.agents[0].agent_id
        stream.send(conversation_update("c1", agent_id))
        stream.until(lambda p: p.control.HasField("conversation_event"))
        said = text("c1", "When does the ferry run?")
        stream.send(said)
        words = " ".join(
            p.text.text for p in stream.reply(said.packet_id.interaction_id) if p.HasField("text")
        )
        assert "Aye, the ferry runs at noon." in words
        assert "shithead" not in words
        assert "Come back tomorrow" not in words
    finally:
        stream.close()
