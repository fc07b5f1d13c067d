"""The Character model: every field, enums as names or numbers, ranges, limits, PATCH rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from anima.domain.character import (
    READ_ONLY_FIELDS,
    Character,
    CognitiveControl,
    LifeStage,
    Pronoun,
    SafetyLevel,
    character_id_for,
    deploy_problems,
    parse_character,
    with_generated_uuids,
)
from anima.domain.resource import slug
from anima.domain.update_mask import apply_update
from anima.errors import InvalidArgument

# Every writable field of the public Character schema, none at its default.
FULL_CHARACTER: dict[str, Any] = {
    "defaultCharacterDescription": {
        "givenName": "Axeon the Enchanted",
        "description": "Fearless warrior",
        "pronoun": "PRONOUN_MALE",
        "nicknames": ["Axe", "The Enchanted"],
        "motivation": "Likes to fight against dragons",
        "wikipediaUri": "https://en.wikipedia.org/wiki/Dragon",
        "exampleDialog": "{character}: To arms!",
        "exampleDialogStyle": "EXAMPLE_DIALOG_STYLE_COMMANDING",
        "personalityAdjectives": ["brave", "loud"],
        "lifeStage": "LIFE_STAGE_MIDDLE_ADULTHOOD",
        "hobbyOrInterests": ["axes", "ale"],
        "characterRole": "Dragon slayer",
        "narrativeActionsEnabled": True,
        "customDialogStyles": [
            {
                "uuid": "3f1c2d4e-0000-4000-8000-000000000001",
                "displayName": "Battle cry",
                "isActive": True,
                "adjectives": ["intense", "curt"],
                "colloquialism": "sports metaphors",
            }
        ],
        "flaws": "Afraid of mice",
        "dialogResponseLength": "DIALOG_RESPONSE_LENGTH_SHORT",
    },
    "defaultCharacterAssets": {
        "voice": {
            "baseName": "Hagrid",
            "ttsType": "TTS_TYPE_STANDARD",
            "gender": "VOICE_GENDER_MALE",
            "pitch": -2.5,
            "speakingRate": 1.25,
            "roboticVoiceFilterLevel": 0.1,
            "elevenlabsMetadata": {"voiceId": "abc"},
        },
        "avatarImg": "https://img.example/axeon.png",
        "avatarImgOriginal": "https://img.example/axeon-original.png",
        "avatarType": "AVATAR_TYPE_RPM",
        "avatarDisplayImageSource": "USER_PROVIDED_IMAGE",
        "rpmAvatar": {
            "rpmModelUri": "https://rpm.example/m.glb",
            "rpmImageUri": "https://rpm.example/i.png",
            "rpmImageUriPortrait": "https://rpm.example/p.png",
            "rpmImageUriPosture": "https://rpm.example/s.png",
        },
        "innequinAvatar": {
            "avatarBackground": "bg-forest",
            "avatarMaterial": "mat-steel",
            "avatarImgUri": "https://innequin.example/a.png",
        },
    },
    "initialMood": {"joy": 10, "fear": -20, "trust": 30, "surprise": -100},
    "personality": {"positive": 100, "peaceful": -50, "open": 25, "extravert": 75},
    "commonKnowledge": ["workspaces/ws1/common-knowledge/dragons"],
    "socialRank": 0.75,
    "personalKnowledge": {
        "uuid": "3f1c2d4e-0000-4000-8000-000000000002",
        "facts": [{"text": "Axeon was born in the north."}, {"text": "Axeon has two axes."}],
    },
    "emotionalFluidity": 0.4,
    "yamlConfig": "goals:\n  - name: greet\n    activation:\n      trigger: greet\n",
    "safetyConfig": {
        "alcohol": "SAFETY_LEVEL_MILD_CONTROL",
        "violence": "SAFETY_LEVEL_NO_CONTROL",
    },
    "relationship": {"enabled": True, "fluidity": -0.5},
    "cognitiveControl": "COGNITIVE_CONTROL_STRICT",
    "fourthWall": "FOURTH_WALL_CONTAINMENT_DISABLED",
    "longTermCoherence": {"enabled": False},
}


def full_character() -> dict[str, Any]:
    return copy.deepcopy(FULL_CHARACTER)


def _violation(exc: InvalidArgument) -> list[str]:
    return [v["field"] for d in exc.details for v in d.get("fieldViolations", [])]


def test_every_field_round_trips() -> None:
    character = parse_character(full_character())
    assert character.to_json() == {"name": "", **FULL_CHARACTER}


def test_attributes_the_engine_reads() -> None:
    c = parse_character(full_character())
    d = c.description
    assert d.given_name == "Axeon the Enchanted"
    assert d.pronoun is Pronoun.PRONOUN_MALE
    assert d.life_stage is LifeStage.LIFE_STAGE_MIDDLE_ADULTHOOD
    assert d.nicknames == ["Axe", "The Enchanted"]
    assert d.narrative_actions_enabled is True
    assert c.initial_mood.surprise == -100
    assert c.personality.extravert == 75
    assert c.relationship.fluidity == -0.5
    assert c.personal_knowledge.facts[1].text == "Axeon has two axes."
    assert c.safety_config["alcohol"] is SafetyLevel.SAFETY_LEVEL_MILD_CONTROL
    assert c.cognitive_control is CognitiveControl.COGNITIVE_CONTROL_STRICT
    assert c.assets.voice.base_name == "Hagrid"


def test_enums_accept_numbers_and_snake_case_and_write_names() -> None:
    c = parse_character(
        {
            "default_character_description": {"given_name": "A", "pronoun": 1, "life_stage": "9"},
            "cognitive_control": 2,
            "safety_config": [{"key": "alcohol", "value": 3}],
        }
    )
    out = c.to_json()
    assert out["defaultCharacterDescription"]["pronoun"] == "PRONOUN_FEMALE"
    assert out["defaultCharacterDescription"]["lifeStage"] == "LIFE_STAGE_CHILDHOOD"
    assert out["cognitiveControl"] == "COGNITIVE_CONTROL_MILD"
    assert out["safetyConfig"] == {"alcohol": "SAFETY_LEVEL_STRICT_CONTROL"}


def test_read_only_fields_are_ignored() -> None:
    body = {
        "name": "workspaces/x/characters/evil",
        "meta": {"totalCommonKnowledge": 99},
        "sharePortalInfo": {"anything": True},
        "defaultCharacterDescription": {"givenName": "A"},
    }
    assert parse_character(body).name == ""


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"defaultCharacterDescription": {"pronoun": "PRONOUN_ROBOT"}},
            "defaultCharacterDescription.pronoun",
            ["PRONOUN_UNSPECIFIED (0)", "PRONOUN_OTHER (3)"],
        ),
        (
            {"defaultCharacterDescription": {"pronoun": 4}},
            "defaultCharacterDescription.pronoun",
            ["PRONOUN_OTHER (3)"],
        ),
        (
            {"defaultCharacterDescription": {"lifeStage": 2}},
            "defaultCharacterDescription.lifeStage",
            ["LIFE_STAGE_ADOLESCENCE (5)"],
        ),
        (
            {"defaultCharacterDescription": {"exampleDialogStyle": "LOUD"}},
            "defaultCharacterDescription.exampleDialogStyle",
            ["EXAMPLE_DIALOG_STYLE_CUSTOM (18)"],
        ),
        (
            {"defaultCharacterDescription": {"dialogResponseLength": 9}},
            "defaultCharacterDescription.dialogResponseLength",
            ["DIALOG_RESPONSE_LENGTH_LONG (3)"],
        ),
        ({"cognitiveControl": "MAX"}, "cognitiveControl", ["COGNITIVE_CONTROL_STRICT (3)"]),
        ({"safetyConfig": {"alcohol": 7}}, "safetyConfig.alcohol", ["SAFETY_LEVEL_NO_CONTROL"]),
        (
            {"defaultCharacterAssets": {"avatarType": True}},
            "defaultCharacterAssets.avatarType",
            ["AVATAR_TYPE_RPM (1)"],
        ),
        (
            {"defaultCharacterAssets": {"avatarDisplayImageSource": -1}},
            "defaultCharacterAssets.avatarDisplayImageSource",
            ["RPM_IMAGE (1)"],
        ),
        ({"personality": {"open": 101}}, "personality.open", ["-100..100"]),
        ({"initialMood": {"joy": -101}}, "initialMood.joy", ["-100..100"]),
        ({"emotionalFluidity": 1.5}, "emotionalFluidity", ["0..1"]),
        ({"emotionalFluidity": -0.1}, "emotionalFluidity", ["0..1"]),
        ({"relationship": {"fluidity": 2}}, "relationship.fluidity", ["-1..1"]),
        (
            {"personalKnowledge": {"facts": [{"text": "ok"}, {"text": "x" * 256}]}},
            "personalKnowledge.facts[1].text",
            ["255"],
        ),
        (
            {"personalKnowledge": {"facts": [{"text": "f"}] * 10_001}},
            "personalKnowledge.facts",
            ["10000"],
        ),
        (
            {"defaultCharacterDescription": {"givenNme": "typo"}},
            "defaultCharacterDescription.givenNme",
            ["unknown"],
        ),
        ({"initialMood": {"joy": 1.5}}, "initialMood.joy", ["integer"]),
    ],
)
def test_validation_failures_name_the_field(
    body: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_character(body)
    assert _violation(caught.value) == [field]
    for word in words:
        assert word in caught.value.message


def test_limits_are_inclusive() -> None:
    c = parse_character(
        {
            "personalKnowledge": {"facts": [{"text": "x" * 255}] * 10_000},
            "personality": {"open": -100, "positive": 100},
            "emotionalFluidity": 1,
            "relationship": {"fluidity": -1},
        }
    )
    assert len(c.personal_knowledge.facts) == 10_000


def test_ids_from_given_name() -> None:
    assert character_id_for(parse_character(FULL_CHARACTER)) == "axeon_the_enchanted"
    assert character_id_for(Character()) == "character"
    assert slug("  Éowyn, Lady of Rohan!  ", "x") == "eowyn_lady_of_rohan"
    assert slug("!!!", "fallback") == "fallback"


def test_generated_uuids_fill_only_empty_ones() -> None:
    c = with_generated_uuids(
        parse_character(
            {
                "defaultCharacterDescription": {
                    "customDialogStyles": [{"displayName": "a"}, {"uuid": "keep"}]
                }
            }
        )
    )
    styles = c.description.custom_dialog_styles
    assert styles[0].uuid
    assert styles[1].uuid == "keep"
    assert c.personal_knowledge.uuid


def test_deploy_problems_report_bad_goals_yaml() -> None:
    assert deploy_problems(parse_character(full_character())) == []
    problems = deploy_problems(Character(yaml_config="goals: [unclosed"))
    assert problems
    assert problems[0][0] == "yamlConfig"
    assert "line 1" in problems[0][1]


# -- PATCH semantics ----------------------------------------------------------


def _current() -> Character:
    c = parse_character(full_character())
    return c.model_copy(update={"name": "workspaces/ws1/characters/axeon_the_enchanted"})


def test_patch_without_mask_merges_present_fields() -> None:
    patch = parse_character(
        {"defaultCharacterDescription": {"description": "Likes to sleep and sing."}}
    )
    updated = apply_update(_current(), patch, None, READ_ONLY_FIELDS)
    expected = _current().to_json()
    expected["defaultCharacterDescription"]["description"] = "Likes to sleep and sing."
    assert updated.to_json() == expected


def test_patch_replaces_lists_and_maps_whole() -> None:
    patch = parse_character(
        {"safetyConfig": {"drugs": 3}, "defaultCharacterDescription": {"nicknames": ["Solo"]}}
    )
    updated = apply_update(_current(), patch, None, READ_ONLY_FIELDS)
    assert updated.safety_config == {"drugs": SafetyLevel.SAFETY_LEVEL_STRICT_CONTROL}
    assert updated.description.nicknames == ["Solo"]
    assert updated.description.given_name == "Axeon the Enchanted"


def test_patch_with_mask_copies_exactly_the_named_paths() -> None:
    patch = parse_character(
        {"defaultCharacterDescription": {"description": "new", "motivation": "ignored"}}
    )
    mask = "defaultCharacterDescription.description,default_character_description.flaws"
    updated = apply_update(_current(), patch, mask, READ_ONLY_FIELDS)
    assert updated.description.description == "new"
    assert updated.description.motivation == "Likes to fight against dragons"
    assert updated.description.flaws == ""  # named but absent: reset to default
    assert updated.name == "workspaces/ws1/characters/axeon_the_enchanted"


def test_patch_mask_star_replaces_everything_but_the_name() -> None:
    patch = parse_character({"socialRank": 0.1})
    updated = apply_update(_current(), patch, "*", READ_ONLY_FIELDS)
    assert updated.to_json() == {
        **Character(social_rank=0.1).to_json(),
        "name": "workspaces/ws1/characters/axeon_the_enchanted",
    }


def test_patch_mask_ignores_read_only_and_refuses_unknown_paths() -> None:
    patch = parse_character({})
    assert apply_update(_current(), patch, "name,meta", READ_ONLY_FIELDS) == _current()
    with pytest.raises(InvalidArgument, match=r"unknown field path 'personality\.mood'"):
        apply_update(_current(), patch, "personality.mood", READ_ONLY_FIELDS)


@pytest.mark.parametrize(
    "length",
    [
        "DIALOG_RESPONSE_LENGTH_VERY_SHORT",
        "DIALOG_RESPONSE_LENGTH_SHORT",
        "DIALOG_RESPONSE_LENGTH_MEDIUM",
        "DIALOG_RESPONSE_LENGTH_LONG",
        "DIALOG_RESPONSE_LENGTH_VERY_LONG",
    ],
)
def test_the_platforms_five_response_lengths_are_accepted(length: str) -> None:
    c = parse_character({"defaultCharacterDescription": {"dialogResponseLength": length}})
    assert c.to_json()["defaultCharacterDescription"]["dialogResponseLength"] == length


def test_fourth_wall_containment_is_on_unless_switched_off() -> None:
    assert parse_character({}).fourth_wall_contained
    on = parse_character({"fourthWall": "FOURTH_WALL_CONTAINMENT_ENABLED"})
    assert on.fourth_wall_contained
    off = parse_character({"fourthWall": "FOURTH_WALL_CONTAINMENT_DISABLED"})
    assert not off.fourth_wall_contained
    assert off.to_json()["fourthWall"] == "FOURTH_WALL_CONTAINMENT_DISABLED"
