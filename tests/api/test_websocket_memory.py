"""Long-term memory over the WebSocket face: recall in a later session of the same player, and
memories carried by a saved state into a session of another player id."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from tests.api.websocket_helpers import Rig, Socket, open_rig


@pytest.fixture
def rig(db_settings: Settings) -> Iterator[Rig]:
    with open_rig(db_settings.model_copy(update={"embed_backend": "minilm"})) as r:
        yield r


def _say(sock: Socket, scene: str, user: dict[str, str], text: str, **config: object) -> None:
    status = sock.handshake(scene, user=user, **config)
    agent = status["control"]["currentSceneStatus"]["agents"][0]["agentId"]
    sock.reply(sock.say(text, sock.conversation(agent)))


def _settle(rig: Rig) -> None:
    rig.run(rig.app.state.anima.engine.turns.recall.memory.settle())


def test_a_later_session_of_the_same_player_recalls(rig: Rig) -> None:
    llm = ScriptedLLM(["Noted.", "Of course."])
    rig.use_llm(llm)
    mara = rig.character("Mara")
    with rig.connect() as sock:
        _say(sock, mara, {"id": "user-9", "name": "Bob"}, "My sister's name is Ilsa.")
    _settle(rig)
    with rig.connect() as sock:
        _say(sock, mara, {"id": "user-9", "name": "Bob"}, "What is my sister called?")
    assert "Bob's sister is named Ilsa." in llm.prompts[-1].note
    with rig.connect() as sock:
        _say(sock, mara, {"id": "user-10", "name": "Bob"}, "What is my sister called?")
    assert "Ilsa" not in str(llm.prompts[-1])


def test_a_saved_state_carries_the_memories(rig: Rig) -> None:
    llm = ScriptedLLM(["Noted.", "Of course."])
    rig.use_llm(llm)
    mara = rig.character("Mara")
    first = rig.token()
    with rig.connect(first) as sock:
        _say(sock, mara, {"id": "user-1", "name": "Bob"}, "I hate the rain.")
    _settle(rig)
    r = rig.client.get(
        f"/v1/workspaces/ws1/sessions/{first['sessionId']}/state?", headers=rig.bearer(first)
    )
    assert r.status_code == 200, r.text
    assert b"rain" not in base64.b64decode(r.json()["state"])  # sealed
    continuation = {
        "continuationType": "CONTINUATION_TYPE_EXTERNALLY_SAVED_STATE",
        "externallySavedState": r.json()["state"],
    }
    with rig.connect() as sock:
        _say(
            sock,
            mara,
            {"id": "user-2", "name": "Bob"},
            "What weather do I hate?",
            continuation=continuation,
        )
    assert "Bob hates the rain." in llm.prompts[-1].note
    character_id = mara.rsplit("/", 1)[-1]
    restored = rig.run(rig.store.memories.of_player("ws1", character_id, "user-2"))
    assert [m.text for m in restored] == ["{player} hates the rain."]
