"""Character Cards (V1, V2, V3; JSON and PNG) to and from Anima characters."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

import pytest

from anima.domain.cards import (
    PNG_SIGNATURE,
    V2,
    V3,
    card_png,
    from_card,
    plain_png,
    png_text_chunks,
    read_character_file,
    to_card,
)
from anima.domain.character import parse_character
from anima.domain.goals_yaml import parse_goals
from anima.errors import InvalidArgument

# A small card the API and CLI tests import.
ROOK = {
    "spec": V2,
    "spec_version": "2.0",
    "data": {
        "name": "Rook",
        "description": "{{char}} sails the barge.",
        "personality": "gruff, loyal",
        "first_mes": "Ahoy, {{user}}!",
        "mes_example": "",
        "creator_notes": "notes",
    },
}


def v2_card(**data: Any) -> dict[str, Any]:
    base = {
        "name": "Seraphina",
        "description": "{{char}} is a guardian of the forest who watches over {{user}}.",
        "personality": "caring, protective, wise",
        "scenario": "{{user}} wakes up in {{char}}'s glade.",
        "first_mes": "*smiles softly* You're awake, {{user}}.",
        "mes_example": "<START>\n{{user}}: Who are you?\n{{char}}: A friend of the forest.",
        "creator_notes": "Best with a large model.",
        "system_prompt": "Write in third person.",
        "tags": ["fantasy"],
        "character_book": {
            "entries": [
                {
                    "keys": ["glade"],
                    "content": "The glade is hidden by old magic.",
                    "enabled": True,
                },
                {"keys": ["off"], "content": "Not used.", "enabled": False},
            ]
        },
        **data,
    }
    return {"spec": V2, "spec_version": "2.0", "data": base}


def test_v2_card_maps_every_field_it_can_and_names_the_rest() -> None:
    found = from_card(v2_card())
    c = found.character
    d = c.description
    assert found.source == "card v2"
    assert d.given_name == "Seraphina"
    assert d.description.startswith(
        "{character} is a guardian of the forest who watches over {player}."
    )
    assert "Scenario: {player} wakes up in {character}'s glade." in d.description
    assert d.personality_adjectives == ["caring", "protective", "wise"]
    assert d.example_dialog.splitlines() == [
        "{character}: *smiles softly* You're awake, {player}.",
        "{player}: Who are you?",
        "{character}: A friend of the forest.",
    ]
    assert [f.text for f in c.personal_knowledge.facts] == ["The glade is hidden by old magic."]
    goal = parse_goals(c.yaml_config).goal("greeting")
    assert goal is not None
    assert goal.activation.trigger == "greeting"
    assert goal.actions[0].say_verbatim == "*smiles softly* You're awake, {player}."
    assert set(found.lost) >= {"creator_notes", "system_prompt", "tags"}
    assert "lorebook entry keys and insertion settings" in found.lost


def test_prose_personality_long_text_and_v1_cards() -> None:
    card = {
        "name": "Old Tom",
        "description": "A fisherman. " * 400,
        "personality": "He is grumpy in the morning but warms up after his tea.",
        "first_mes": "What {do} you want?",  # braces that are not placeholders
        "mes_example": "",
    }
    found = from_card(card)
    d = found.character.description
    assert found.source == "card v1"
    assert len(d.description) <= 3000
    assert d.description.endswith("A fisherman.")  # cut at a sentence end
    assert d.personality_adjectives == []
    assert "description after 3000 characters" in found.lost
    assert found.character.yaml_config == ""
    assert any("greeting goal" in item for item in found.lost)


def test_long_lorebook_entries_become_facts_of_at_most_255_characters() -> None:
    long = " ".join(
        f"Sentence number {i} tells of the river and its many moods." for i in range(20)
    )
    found = from_card(v2_card(character_book={"entries": [{"content": long}]}))
    facts = [f.text for f in found.character.personal_knowledge.facts]
    assert all(len(f) <= 255 for f in facts)
    assert " ".join(facts) == long


def test_anima_to_card_to_anima_loses_nothing() -> None:
    character = parse_character(
        {
            "defaultCharacterDescription": {
                "givenName": "Mara",
                "description": "Mara keeps the inn.",
                "motivation": "Find the boat thief.",
                "flaws": "Gossips.",
                "personalityAdjectives": ["warm", "shrewd"],
                "exampleDialog": "{player}: Hi\n{character}: Welcome!",
            },
            "personality": {"positive": 50},
            "initialMood": {"joy": 30},
            "relationship": {"enabled": True, "fluidity": 0.3},
            "safetyConfig": {"violence": "SAFETY_LEVEL_STRICT_CONTROL"},
            "personalKnowledge": {"facts": [{"text": "The bridge washed away."}]},
            "yamlConfig": "goals:\n  - name: greeting\n    activation: {trigger: greeting}\n"
            '    actions:\n      - say_verbatim: "Welcome, {player}!"\n',
        }
    )
    for spec in (V2, V3):
        card = to_card(character, spec=spec)
        data = card["data"]
        assert card["spec"] == spec
        assert data["name"] == "Mara"
        assert "Motivation: Find the boat thief." in data["description"]
        assert data["personality"] == "warm, shrewd"
        assert data["first_mes"] == "Welcome, {{user}}!"
        assert data["mes_example"] == "<START>\n{{user}}: Hi\n{{char}}: Welcome!"
        assert data["character_book"]["entries"][0]["content"] == "The bridge washed away."
        back = read_character_file(card_png(card))
        assert back.character == character
        assert back.lost == ["the image"]


def test_png_chunks_v3_preferred_and_image_kept() -> None:
    image = plain_png(8)
    v3 = to_card(parse_character({"defaultCharacterDescription": {"givenName": "Ada"}}))
    png = card_png(v3, image)
    chunks = png_text_chunks(png)
    assert set(chunks) == {"chara", "ccv3"}
    assert json.loads(base64.b64decode(chunks["chara"]))["spec"] == V2
    assert json.loads(base64.b64decode(chunks["ccv3"]))["spec"] == V3
    found = read_character_file(png, "ada.png")
    assert found.source == "card v3 png"
    # the picture itself is unchanged: the same IHDR and IDAT
    assert png[: len(image) - 12] == image[:-12]
    # putting another card in replaces the old chunks instead of adding more
    again = card_png(v2_card(name="Bea"), png)
    assert json.loads(base64.b64decode(png_text_chunks(again)["chara"]))["data"]["name"] == "Bea"
    assert again.count(b"tEXtchara") == 1


def _with_text(keyword: bytes, text: bytes) -> bytes:
    body = keyword + b"\0" + text
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    image = plain_png(4)
    return image[:-12] + chunk + image[-12:]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01garbage", "neither JSON nor PNG"),
        (plain_png(4), "without a character card"),
        (_with_text(b"chara", b"%%%not base64"), "not base64 JSON"),
        (_with_text(b"chara", base64.b64encode(b'{"hello": 1}')), "is not a card"),
        (PNG_SIGNATURE + b"\x00\x00\x10\x00IHDR", "cut short"),
        (json.dumps({"spec": V2, "data": {"name": ""}}).encode(), "has no 'name'"),
        (json.dumps({"spec": V2, "data": {"name": 5}}).encode(), "'name' must be a string"),
        (json.dumps({"spec": V2, "data": []}).encode(), "'data' must be an object"),
    ],
)
def test_bad_files_are_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        read_character_file(data, "card.png")


def test_studio_json_is_read_as_is() -> None:
    body = {"defaultCharacterDescription": {"givenName": "Zed"}, "initialMood": {"joy": 10}}
    found = read_character_file(json.dumps(body).encode())
    assert found.source == "studio"
    assert found.lost == []
    assert found.character == parse_character(body)
    with pytest.raises(InvalidArgument, match=r"initialMood\.joy"):
        read_character_file(json.dumps({"initialMood": {"joy": 500}}).encode())
