"""What the web Studio needs from the APIs beyond the platform's: card import and export, the
live version and the goals' triggers of a character, and the turn's prompt in the trace
(studio scope only)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from anima.backends.scripted import ScriptedLLM
from anima.domain.cards import V2, card_png, png_text_chunks
from anima.domain.credentials import Scope, new_key_pair
from anima.settings import Settings
from tests.api.websocket_helpers import WS, Rig, open_rig
from tests.domain.test_cards import ROOK

GOALS = (
    "goals:\n"
    "  - name: toll\n"
    "    activation: {trigger: pay_toll}\n"
    "    actions:\n"
    '      - say_verbatim: "{{p.coins}} coins from {{p.who}}? Fine."\n'
    "  - name: wave\n"
    "    activation: {trigger: wave}\n"
    "    actions:\n"
    "      - instruction: Wave back.\n"
)


@pytest.fixture
def rig(db_settings: Settings) -> Iterator[Rig]:
    with open_rig(db_settings) as r:
        yield r


def _key(rig: Rig, scope: Scope) -> dict[str, str]:
    async def add() -> str:
        pair = new_key_pair()
        await rig.store.keys.add(WS, scope, pair)
        return pair.basic

    return {"Authorization": f"Basic {rig.run(add())}"}


def _import(rig: Rig, data: bytes, **extra: Any) -> Any:
    body = {"file": base64.b64encode(data).decode(), "filename": "card.png", **extra}
    return rig.client.post(
        f"/studio/v1/workspaces/{WS}/characters:import", json=body, headers=rig.auth
    )


def test_import_card_png_and_json_and_studio_json(rig: Rig) -> None:
    r = _import(rig, card_png(ROOK))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "card v2 png"
    assert body["lost"] == ["the image", "creator_notes"]
    created = body["character"]
    assert created["name"] == f"workspaces/{WS}/characters/rook"
    assert created["defaultCharacterDescription"]["personalityAdjectives"] == ["gruff", "loyal"]
    stored = rig.ok("GET", f"/studio/v1/{created['name']}")
    assert stored == created

    again = _import(rig, json.dumps(ROOK).encode()).json()
    assert again["source"] == "card v2"
    assert again["character"]["name"] != created["name"]  # a new character, never a replace

    studio = json.dumps({"defaultCharacterDescription": {"givenName": "Zed"}}).encode()
    assert _import(rig, studio).json()["source"] == "studio"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"file": "%%%"}, "file", "base64"),
        ({"file": "ñandú"}, "file", "base64"),  # not ASCII: was a 500
        ({"file": base64.b64encode(b"nonsense").decode()}, "", "neither JSON nor PNG"),
        ({"filename": "x"}, "file", "Field required"),
        ({"file": "", "extra": 1}, "extra", "Extra inputs"),
    ],
)
def test_import_errors_name_what_is_wrong(
    rig: Rig, body: dict[str, Any], field: str, message: str
) -> None:
    r = rig.client.post(
        f"/studio/v1/workspaces/{WS}/characters:import", json=body, headers=rig.auth
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert message in error["message"]
    if field:
        violations = error["details"][0]["fieldViolations"]
        assert field in [v["field"] for v in violations]
    assert rig.ok("GET", f"/studio/v1/workspaces/{WS}/characters")["characters"] == []


def test_export_card_json_and_png_round_trip(rig: Rig) -> None:
    name = rig.character("Tessa", yamlConfig=GOALS)
    card = rig.ok("GET", f"/studio/v1/{name}:exportCard")
    assert card["spec"] == "chara_card_v3"
    assert card["data"]["name"] == "Tessa"
    v2 = rig.ok("GET", f"/studio/v1/{name}:exportCard", params={"spec": "v2"})
    assert v2["spec"] == V2
    r = rig.client.get(f"/studio/v1/{name}:exportCard?format=png", headers=rig.auth)
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert set(png_text_chunks(r.content)) == {"chara", "ccv3"}
    back = _import(rig, r.content).json()["character"]
    original = rig.ok("GET", f"/studio/v1/{name}")
    assert {**back, "name": ""} == {**original, "name": ""}
    bad = rig.client.get(f"/studio/v1/{name}:exportCard?format=gif", headers=rig.auth)
    assert bad.status_code == 400
    assert "format" in bad.json()["error"]["message"]
    missing = rig.client.get(
        f"/studio/v1/workspaces/{WS}/characters/nobody:exportCard", headers=rig.auth
    )
    assert missing.status_code == 404


def test_meta_names_the_live_version_and_its_triggers(rig: Rig) -> None:
    created = rig.ok(
        "POST",
        f"/studio/v1/workspaces/{WS}/characters",
        json={"defaultCharacterDescription": {"givenName": "Ada"}, "yamlConfig": GOALS},
    )
    name = created["name"]
    view = {"view": "CHARACTER_ITEM_VIEW_WITH_META"}
    meta = rig.ok("GET", f"/studio/v1/{name}", params=view)["meta"]
    assert meta["deployedVersion"] == 0
    assert meta["triggers"] == []
    rig.deploy(name)
    rig.deploy(name)
    meta = rig.ok("GET", f"/studio/v1/{name}", params=view)["meta"]
    assert meta["deployedVersion"] == 2
    assert meta["triggers"] == [
        {"name": "pay_toll", "parameters": ["coins", "who"]},
        {"name": "wave", "parameters": []},
    ]
    assert "meta" not in rig.ok("GET", f"/studio/v1/{name}")


def test_the_prompt_is_in_the_trace_for_studio_keys_only(rig: Rig) -> None:
    rig.use_llm(ScriptedLLM(["Hello to you."]))
    name = rig.character("Tessa")
    short = name.rsplit("/", 1)[-1]
    reply = rig.ok(
        "POST",
        f"/v1/workspaces/{WS}/characters/{short}:simpleSendText",
        json={"text": "Good evening!", "endUserFullname": "Bob", "endUserId": "b1"},
    )
    path = f"/v1/workspaces/{WS}/sessions/{reply['sessionId']}/interactions"
    [item] = rig.ok("GET", path)["interactions"]
    prompt = item["trace"]["prompt"]
    assert prompt["format"] == "chat"
    assert prompt["attempt"] == 0
    assert prompt["messages"][0]["role"] == "system"
    assert "Tessa runs the ferry on the river." in prompt["messages"][0]["content"]
    assert prompt["messages"][-1] == {"role": "user", "content": "Good evening!"}

    runtime = rig.client.get(path, headers=_key(rig, Scope.RUNTIME))
    assert runtime.status_code == 200
    [hidden] = runtime.json()["interactions"]
    assert "prompt" not in hidden["trace"]
    assert hidden["textList"] == item["textList"]
    studio_only = rig.client.get(path, headers=_key(rig, Scope.STUDIO))
    assert studio_only.status_code == 403  # the interactions list is a runtime API
