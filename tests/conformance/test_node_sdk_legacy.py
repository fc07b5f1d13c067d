"""The unmodified @inworld/nodejs-sdk 0.9.4 and 1.11.0 against a real ``anima serve``.

Both speak the older protocol: 0.9.4 asks ``Tokens/GenerateSessionToken`` (at its studio host)
for a token, 1.11.0 ``GenerateToken``; then each calls ``LoadScene`` and opens the ``Session``
stream. One server for the module, driven by harness/node_0_9_client.js and
harness/node_1_11_client.js. What the model says is not asserted, only the protocol.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conformance.anima_server import SCENE, AnimaServer
from tests.conformance.conftest import HARNESS, TIMEOUT_MS, events, history, packets, run_harness

pytestmark = pytest.mark.slow

OLD = "node_0_9_client.js"
NEWER = "node_1_11_client.js"
TEXT, CONTROL, CUSTOM, EMOTION = 1, 5, 3, 4  # InworldPacketType of 0.9.4 (a number)


def _run(server: AnimaServer, script: str, scenario: str, **env: str) -> list[dict[str, Any]]:
    out = run_harness(
        script, scenario, env=server.node_env(ANIMA_TIMEOUT_MS=TIMEOUT_MS, **env), timeout=240
    )
    assert out[-1] == {"event": "done"}, out[-3:]
    return out


def _sent_ids(out: list[dict[str, Any]]) -> list[str]:
    return [o["packet"]["packetId"]["interactionId"] for o in events(out, "sent")]


def _assert_reply(reply: list[dict[str, Any]], agent_id: str, *, text: Any, control: Any) -> None:
    """Texts (final, from the agent, to the player), INTERACTION_END last and once."""
    types = [p["type"] for p in reply]
    assert types[-1] == control, types
    assert reply[-1]["isInteractionEnd"]
    assert types.count(control) == 1
    texts = [p for p in reply if p["type"] == text]
    assert texts
    assert all(p["text"]["text"].strip() and p["text"]["final"] for p in texts)
    for p in reply:
        assert p["routing"]["source"] == {"name": agent_id, "isPlayer": False, "isCharacter": True}
        assert p["routing"]["target"]["isPlayer"]


def test_tokens_from_both_token_services(server: AnimaServer) -> None:
    for script in (OLD, NEWER):
        (token,) = events(_run(server, script, "token"), "token")
        assert token["type"] == "Bearer"
        assert token["sessionId"].startswith("test-ws:")
        expires = datetime.fromisoformat(token["expirationTime"].replace("Z", "+00:00"))
        assert expires - datetime.now(UTC) > timedelta(minutes=55)  # 0.9.x renews under 50


def test_0_9_converses_with_emotions_and_a_trigger(server: AnimaServer) -> None:
    out = _run(server, OLD, "converse", ANIMA_TEXT="Hello! How are you?", ANIMA_TRIGGER="greet")
    (alice,) = events(out, "characters")[0]["characters"]
    assert alice["resourceName"] == SCENE
    assert alice["displayName"] == "Alice"
    said, triggered = _sent_ids(out)

    reply = packets(out, said)
    _assert_reply(reply, alice["id"], text=TEXT, control=CONTROL)
    emotions = [p for p in reply if p["type"] == EMOTION]
    assert emotions
    assert all(e["emotions"]["behavior"] for e in emotions)
    greeting = packets(out, triggered)
    _assert_reply(greeting, alice["id"], text=TEXT, control=CONTROL)
    assert [p["text"]["text"] for p in greeting if p["type"] == TEXT] == [
        "Welcome to the lighthouse, Bob!"
    ]
    assert "greeted" in [p["custom"]["name"] for p in greeting if p["type"] == CUSTOM]

    (session,) = events(out, "session")
    stored = history(server, session["sessionId"])
    assert [(i.input_kind, i.input_text, i.trigger) for i in stored] == [
        ("text", "Hello! How are you?", ""),
        ("trigger", "", "greet"),
    ]


def test_1_11_converses_with_a_trigger_and_a_narrated_action(server: AnimaServer) -> None:
    out = _run(server, NEWER, "converse", ANIMA_TRIGGER="greet")
    (alice,) = events(out, "characters")[0]["characters"]
    said, triggered, acted = _sent_ids(out)
    assert [o["packet"]["type"] for o in events(out, "sent")] == [
        "TEXT",
        "TRIGGER",
        "NARRATED_ACTION",
    ]
    for interaction in (said, triggered, acted):
        _assert_reply(packets(out, interaction), alice["id"], text="TEXT", control="CONTROL")
    assert any(p["type"] == "EMOTION" for p in packets(out, said))
    sent_back = [p["trigger"]["name"] for p in packets(out, triggered) if p["type"] == "TRIGGER"]
    assert "greeted" in sent_back

    (session,) = events(out, "session")
    stored = history(server, session["sessionId"])
    assert [(i.input_kind, i.trigger) for i in stored] == [
        ("text", ""),
        ("trigger", "greet"),
        ("action", ""),
    ]
    assert stored[1].parameters == (("k", "v"),)


def test_1_11_continues_from_a_saved_state_given_to_load_scene(server: AnimaServer) -> None:
    out = _run(
        server, NEWER, "state", ANIMA_TEXT="My name is Bob and I love sailing.", ANIMA_TEXT2="Hi!"
    )
    (state,) = events(out, "state")
    assert state["state"]
    first, second = (s["sessionId"] for s in events(out, "session"))
    assert first != second
    earlier, now = history(server, second)
    assert earlier.input_text == "My name is Bob and I love sailing."
    assert earlier.texts == history(server, first)[0].texts
    assert now.input_text == "Hi!"


def test_both_reconnect_after_a_restart(server: AnimaServer) -> None:
    """Each SDK keeps its session across a server restart: the next send opens ``Session``
    again with the same id (no LoadScene) and the conversation goes on."""
    env = {**os.environ, **server.node_env(ANIMA_TIMEOUT_MS=TIMEOUT_MS, ANIMA_TEXT2="Still there?")}
    node = shutil.which("node")
    assert node is not None
    clients = [
        subprocess.Popen(
            [node, str(HARNESS / script), "reconnect"],
            cwd=HARNESS.parent,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in (OLD, NEWER)
    ]
    outs: list[list[dict[str, Any]]] = []
    try:
        for client in clients:
            assert client.stdout is not None
            out: list[dict[str, Any]] = []
            for line in client.stdout:
                if line.startswith("{"):
                    out.append(json.loads(line))
                    if out[-1]["event"] in ("waiting", "fatal"):
                        break
            assert out[-1]["event"] == "waiting", out[-3:]
            outs.append(out)
        server.restart()  # SIGTERM: the open streams end with UNAVAILABLE
        for client, out in zip(clients, outs, strict=True):
            rest, errors = client.communicate("go\n", timeout=240)
            out += [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
            assert out[-1] == {"event": "done"}, (out[-3:], errors)
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()

    for out, (text, control) in zip(outs, ((TEXT, CONTROL), ("TEXT", "CONTROL")), strict=True):
        waiting = next(i for i, o in enumerate(out) if o["event"] == "waiting")
        errors = [o for o in out[waiting:] if o["event"] == "error"]
        assert errors
        assert errors[0]["code"] == 14
        (alice,) = events(out, "characters")[0]["characters"]
        first, second = _sent_ids(out)
        _assert_reply(packets(out, first), alice["id"], text=text, control=control)
        _assert_reply(packets(out, second), alice["id"], text=text, control=control)
        (session,) = {s["sessionId"] for s in events(out, "session")}
        assert [i.input_text for i in history(server, session)] == ["Hello", "Still there?"]


@pytest.mark.parametrize("script", [OLD, NEWER])
def test_a_wrong_secret_is_refused(server: AnimaServer, script: str) -> None:
    out = _run(server, script, "error", ANIMA_SECRET=server.secret + "x")
    error = events(out, "error")[0]
    assert error["code"] == 16  # UNAUTHENTICATED
    assert "signature does not match" in error["message"]
    assert events(out, "packet") == []


def test_an_unknown_character_is_not_found(server: AnimaServer) -> None:
    out = _run(server, OLD, "error", ANIMA_SCENE="workspaces/test-ws/characters/nobody")
    error = events(out, "error")[0]
    assert error["code"] == 5  # NOT_FOUND, from LoadScene
    assert "nobody" in error["message"]
