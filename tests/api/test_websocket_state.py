"""Session state and feedback over REST (the web SDK's calls beside its socket), and CORS."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from tests.api.websocket_helpers import Rig, Socket, open_rig


@pytest.fixture
def rig(db_settings: Settings) -> Iterator[Rig]:
    with open_rig(db_settings) as r:
        yield r


RELATIONSHIP = {"relationship": {"enabled": True, "fluidity": 1.0}}
USER = {"id": "user-7", "name": "Bob"}


def _converse(sock: Socket, scene: str, text: str, **config: Any) -> tuple[str, str]:
    status = sock.handshake(scene, user=USER, **config)
    agent = status["control"]["currentSceneStatus"]["agents"][0]["agentId"]
    cid = sock.conversation(agent)
    sock.reply(sock.say(text, cid))
    return agent, cid


def _state(rig: Rig, token: dict[str, Any]) -> dict[str, Any]:
    r = rig.client.get(
        f"/v1/workspaces/ws1/sessions/{token['sessionId']}/state?", headers=rig.bearer(token)
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_saved_state_continues_conversation_mood_and_relationship(rig: Rig) -> None:
    llm = ScriptedLLM(["You are most welcome, friend!", "As I said before, welcome."])
    rig.use_llm(llm)
    alice = rig.character("Alice", **RELATIONSHIP)
    first = rig.token()
    with rig.connect(first) as sock:
        agent, _ = _converse(sock, alice, "Thank you so much, you are wonderful!")
    old = rig.run(rig.store.sessions.get(first["sessionId"]))
    assert old is not None
    mood = old.agent_state[agent]
    saved = _state(rig, first)
    blob = base64.b64decode(saved["state"])
    assert b"wonderful" not in blob  # sealed, not just encoded
    assert saved["creationTime"].endswith("Z")
    assert saved["version"]["interactionId"]

    character_id = alice.rsplit("/", 1)[-1]
    rel = rig.run(rig.store.relationships.get("ws1", USER["id"], character_id))
    assert rel, "the first session moved the relationship"

    second = rig.token()
    with rig.connect(second) as sock:
        continuation = {
            "continuationType": "CONTINUATION_TYPE_EXTERNALLY_SAVED_STATE",
            "externallySavedState": saved["state"],
        }
        other_user = {"id": "user-8", "name": "Bob"}
        status = sock.handshake(alice, user=other_user, continuation=continuation)
        new_agent = status["control"]["currentSceneStatus"]["agents"][0]["agentId"]
        restored = rig.run(rig.store.sessions.get(second["sessionId"]))
        assert restored is not None
        assert restored.agent_state[new_agent] == mood  # mood and goal state, as saved
        assert rig.run(rig.store.relationships.get("ws1", "user-8", character_id)) == rel
        sock.reply(sock.say("Do you remember me?", sock.conversation(new_agent)))
        sock.send({"packetId": {"packetId": "h"}, "sessionControl": {"sessionHistoryRequest": {}}})
        history = sock.until(lambda f: "sessionControlResponse" in f.get("result", {}))[-1]
    assert new_agent != agent
    prompt = str(llm.prompts[-1])
    assert "Thank you so much, you are wonderful!" in prompt
    assert "You are most welcome, friend!" in prompt
    items = history["result"]["sessionControlResponse"]["sessionHistory"]["sessionHistoryItems"]
    texts = [p["text"]["text"] for p in items[0]["packets"]]
    assert texts == [
        "Thank you so much, you are wonderful!",
        "You are most welcome, friend!",
        "Do you remember me?",
        "As I said before, welcome.",
    ]


def test_forged_or_foreign_state_is_refused_with_a_warning(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["Hello."]))
    alice = rig.character("Alice")
    first = rig.token()
    with rig.connect(first) as sock:
        _converse(sock, alice, "hi")
    blob = bytearray(base64.b64decode(_state(rig, first)["state"]))
    blob[-1] ^= 1
    with rig.connect() as sock:
        continuation = {
            "continuationType": "CONTINUATION_TYPE_EXTERNALLY_SAVED_STATE",
            "externallySavedState": base64.b64encode(bytes(blob)).decode(),
        }
        _converse(sock, alice, "hi again", continuation=continuation)
    warnings = [
        f["result"]["control"]["description"]
        for f in sock.received
        if f.get("result", {}).get("control", {}).get("action") == "WARNING"
    ]
    assert any("does not open" in w for w in warnings)


def test_dialog_history_continuation(rig: Rig) -> None:
    llm = ScriptedLLM(["Of course."])
    rig.use_llm(llm)
    alice = rig.character("Alice")
    dialog = {
        "continuationType": "CONTINUATION_TYPE_DIALOG_HISTORY",
        "dialogHistory": {
            "history": [
                {"actor": {"type": "PLAYER"}, "text": "My name is Zed."},
                {"actor": {"type": "AGENT"}, "text": "Nice to meet you, Zed."},
            ]
        },
    }
    with rig.connect() as sock:
        _converse(sock, alice, "Remember my name?", continuation=dialog)
    prompt = str(llm.prompts[-1])
    assert "My name is Zed." in prompt
    assert "Nice to meet you, Zed." in prompt


def test_state_errors_are_bare_status_bodies(rig: Rig) -> None:
    token = rig.token()
    r = rig.client.get(
        f"/v1/workspaces/ws1/sessions/{token['sessionId']}/state", headers=rig.bearer(token)
    )
    assert r.status_code == 404
    assert set(r.json()) == {"code", "message", "details"}
    assert r.json()["code"] == 5
    r = rig.client.get(
        f"/v1/workspaces/ws1/sessions/{token['sessionId']}/state",
        headers={**rig.bearer(token), "Authorization": "Bearer v1.bogus.token"},
    )
    assert r.status_code == 401
    [detail] = r.json()["details"]
    assert detail["errorType"] == "SESSION_TOKEN_INVALID"
    r = rig.client.get(
        f"/v1/workspaces/other/sessions/{token['sessionId']}/state", headers=rig.bearer(token)
    )
    assert r.status_code == 403


def test_feedback_create_and_delete(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["Hello."]))
    alice = rig.character("Alice")
    token = rig.token()
    sid = token["sessionId"]
    with rig.connect(token) as sock:
        _converse(sock, alice, "hi")
    iid = sock.received[-1]["result"]["packetId"]["interactionId"]
    base = f"/v1/feedback/workspaces/ws1/sessions/{sid}/interactions/{iid}/groups/default/feedbacks"
    r = rig.client.post(base, json={"isLike": True}, headers=rig.bearer(token))
    assert r.status_code == 200, r.text
    liked = r.json()
    assert liked["isLike"] is True
    assert liked["type"] == []
    assert liked["name"].startswith(f"workspaces/ws1/sessions/{sid}/interactions/{iid}/groups/")
    r = rig.client.post(
        base,
        json={"isLike": False, "type": ["INTERACTION_DISLIKE_TYPE_TOO_LONG"], "comment": "long"},
        headers=rig.bearer(token),
    )
    disliked = r.json()
    assert disliked["type"] == ["INTERACTION_DISLIKE_TYPE_TOO_LONG"]
    stored = rig.run(rig.store.feedback.for_session(sid, iid))
    assert [(f.is_like, f.comment) for f in stored] == [(True, ""), (False, "long")]

    r = rig.client.delete(f"/v1/feedback/{liked['name']}", headers=rig.bearer(token))
    assert (r.status_code, r.json()) == (200, {})
    r = rig.client.delete(f"/v1/feedback/{liked['name']}", headers=rig.bearer(token))
    assert r.status_code == 404
    assert r.json()["code"] == 5
    r = rig.client.post(base, json={"type": ["NOPE"]}, headers=rig.bearer(token))
    assert r.status_code == 400
    assert "NOPE" in r.json()["message"]
    r = rig.client.post(base, content=b"{not json", headers=rig.bearer(token))
    assert r.status_code == 400
    r = rig.client.post(base, json={"isLike": True})
    assert r.status_code == 401
    assert r.json()["details"][0]["errorType"] == "SESSION_TOKEN_INVALID"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/workspaces/ws1/sessions/ws1:x/state"),
        (
            "POST",
            "/v1/feedback/workspaces/ws1/sessions/ws1:x/interactions/i/groups/default/feedbacks",
        ),
        (
            "DELETE",
            "/v1/feedback/workspaces/ws1/sessions/ws1:x/interactions/i/groups/g/feedbacks/f",
        ),
        ("POST", "/auth/v1/tokens/token:generate"),
    ],
)
def test_cors_preflight(rig: Rig, method: str, path: str) -> None:
    r = rig.client.options(
        path,
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,grpc-metadata-session-id,content-type",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] in ("*", "http://localhost:3000")
    allowed = r.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "grpc-metadata-session-id", "content-type"):
        assert header in allowed
    assert method in r.headers["access-control-allow-methods"]
