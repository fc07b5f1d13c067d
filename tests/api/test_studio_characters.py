"""Characters over REST: full round trips, validation, paging with filters, PATCH, DELETE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from anima.settings import Settings
from tests.api.studio_helpers import BASE, Studio, bad_request, open_studio
from tests.domain.test_character import FULL_CHARACTER, full_character


@pytest.fixture
async def studio(db_settings: Settings) -> AsyncIterator[Studio]:
    async with open_studio(db_settings) as s:
        yield s


async def test_every_field_round_trips_through_create_get_and_list(studio: Studio) -> None:
    created = await studio.create(full_character())
    name = "workspaces/ws1/characters/axeon_the_enchanted"
    assert created == {"name": name, **FULL_CHARACTER}

    assert await studio.ok("GET", f"/studio/v1/{name}") == created
    assert await studio.ok("GET", f"/studio/v1/{name}?view=CHARACTER_ITEM_VIEW_DEFAULT") == created
    with_meta = await studio.ok("GET", f"/studio/v1/{name}?view=CHARACTER_ITEM_VIEW_WITH_META")
    meta = {"totalCommonKnowledge": 1, "goalsVersion": 2, "deployedVersion": 0, "triggers": []}
    assert with_meta == {**created, "meta": meta}
    assert (await studio.ok("GET", f"/studio/v1/{name}?view=2"))["meta"]["goalsVersion"] == 2

    listed = await studio.ok("GET", f"{BASE}/characters")
    assert listed == {"characters": [created], "nextPageToken": ""}
    filtered = await studio.ok(
        "GET", f"{BASE}/characters", params={"filter": f"character.name={name}"}
    )
    assert filtered["characters"] == [created]


async def test_enums_as_numbers_come_back_as_names(studio: Studio) -> None:
    body = {
        "defaultCharacterDescription": {"givenName": "N", "pronoun": 3, "lifeStage": 5},
        "cognitiveControl": 1,
        "safetyConfig": {"alcohol": 1},
    }
    created = await studio.create(body)
    d = created["defaultCharacterDescription"]
    assert (d["pronoun"], d["lifeStage"]) == ("PRONOUN_OTHER", "LIFE_STAGE_ADOLESCENCE")
    assert created["cognitiveControl"] == "COGNITIVE_CONTROL_NONE"
    assert created["safetyConfig"] == {"alcohol": "SAFETY_LEVEL_NO_CONTROL"}


async def test_read_only_fields_are_ignored_and_ids_get_a_suffix(studio: Studio) -> None:
    body = {
        "name": "workspaces/ws1/characters/chosen",
        "meta": {"totalCommonKnowledge": 7},
        "sharePortalInfo": {"x": 1},
        "defaultCharacterDescription": {"givenName": "Axeon"},
    }
    first = await studio.create(body)
    second = await studio.create(body)
    assert first["name"] == "workspaces/ws1/characters/axeon"
    assert second["name"].startswith("workspaces/ws1/characters/axeon_")
    assert "meta" not in first
    unnamed = await studio.create({})
    assert unnamed["name"] == "workspaces/ws1/characters/character"
    wrapped = await studio.create(
        {"character": {"defaultCharacterDescription": {"givenName": "W"}}}
    )
    assert wrapped["name"] == "workspaces/ws1/characters/w"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"defaultCharacterDescription": {"pronoun": "PRONOUN_X"}},
            "defaultCharacterDescription.pronoun",
            "PRONOUN_OTHER (3)",
        ),
        (
            {"defaultCharacterDescription": {"pronoun": 9}},
            "defaultCharacterDescription.pronoun",
            "PRONOUN_FEMALE (1)",
        ),
        (
            {"defaultCharacterDescription": {"lifeStage": "OLD"}},
            "defaultCharacterDescription.lifeStage",
            "LIFE_STAGE_CHILDHOOD (9)",
        ),
        (
            {"defaultCharacterDescription": {"exampleDialogStyle": 19}},
            "defaultCharacterDescription.exampleDialogStyle",
            "EXAMPLE_DIALOG_STYLE_CUSTOM (18)",
        ),
        (
            {"defaultCharacterDescription": {"dialogResponseLength": "HUGE"}},
            "defaultCharacterDescription.dialogResponseLength",
            "DIALOG_RESPONSE_LENGTH_SHORT (1)",
        ),
        (
            {"defaultCharacterAssets": {"avatarType": 5}},
            "defaultCharacterAssets.avatarType",
            "AVATAR_TYPE_INWORLD (2)",
        ),
        (
            {"defaultCharacterAssets": {"avatarDisplayImageSource": "X"}},
            "defaultCharacterAssets.avatarDisplayImageSource",
            "INNEQUIN_IMAGE (2)",
        ),
        (
            {"safetyConfig": {"alcohol": "LOTS"}},
            "safetyConfig.alcohol",
            "SAFETY_LEVEL_STRICT_CONTROL (3)",
        ),
        ({"cognitiveControl": 4}, "cognitiveControl", "COGNITIVE_CONTROL_MILD (2)"),
        ({"initialMood": {"fear": 150}}, "initialMood.fear", "-100..100"),
        ({"personality": {"peaceful": -101}}, "personality.peaceful", "-100..100"),
        ({"emotionalFluidity": 1.01}, "emotionalFluidity", "0..1"),
        ({"relationship": {"fluidity": -1.5}}, "relationship.fluidity", "-1..1"),
        (
            {"personalKnowledge": {"facts": [{"text": "y" * 256}]}},
            "personalKnowledge.facts[0].text",
            "255",
        ),
        (
            {"personalKnowledge": {"facts": [{"text": "f"}] * 10_001}},
            "personalKnowledge.facts",
            "10000",
        ),
        (
            {"defaultCharacterDescription": {"nickname": ["x"]}},
            "defaultCharacterDescription.nickname",
            "unknown field",
        ),
        ({"socialRank": "high"}, "socialRank", "number"),
    ],
)
async def test_validation_failures_are_400_naming_the_field(
    studio: Studio, body: dict[str, Any], field: str, words: str
) -> None:
    message = bad_request(await studio.call("POST", f"{BASE}/characters", json=body), field)
    assert words in message
    assert field in message
    await studio.create({"defaultCharacterDescription": {"givenName": "Valid"}})
    patch = await studio.call("PATCH", f"{BASE}/characters/valid", json=body)
    bad_request(patch, field)


async def test_malformed_bodies_and_parameters_are_400(studio: Studio) -> None:
    r = await studio.call(
        "POST",
        f"{BASE}/characters",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert "malformed JSON" in bad_request(r)
    bad_request(await studio.call("POST", f"{BASE}/characters", json=[1, 2]))
    await studio.create({"defaultCharacterDescription": {"givenName": "A"}})
    assert "CHARACTER_ITEM_VIEW_WITH_META (2)" in bad_request(
        await studio.call("GET", f"{BASE}/characters/a?view=FULL"), "view"
    )
    bad_request(await studio.call("GET", f"{BASE}/characters?view=9"), "view")
    bad_request(await studio.call("GET", f"{BASE}/characters?pageSize=ten"), "pageSize")
    bad_request(await studio.call("GET", f"{BASE}/characters?pageSize=-3"), "pageSize")
    bad_request(await studio.call("GET", f"{BASE}/characters?pageToken=nonsense"), "pageToken")
    r = await studio.call(
        "PATCH", f"{BASE}/characters/a?updateMask=defaultCharacterDescription.nope", json={}
    )
    assert "defaultCharacterDescription.nope" in bad_request(r, "updateMask")


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("character.name=", 16),
        ("character.name=a OR", 20),
        ("(character.name=a", 18),
        ('character.name="a', 16),
        ("character.title=a", 1),
        ("character.name<a", 1),
    ],
)
async def test_malformed_filter_is_400_with_position(
    studio: Studio, text: str, position: int
) -> None:
    r = await studio.call("GET", f"{BASE}/characters", params={"filter": text})
    assert f"position {position}" in bad_request(r, "filter")


def _flat(pages: list[list[str]]) -> list[str]:
    return [i for page in pages for i in page]


async def _pages(studio: Studio, params: dict[str, Any]) -> list[list[str]]:
    pages: list[list[str]] = []
    token = ""
    while True:
        body = await studio.ok("GET", f"{BASE}/characters", params={**params, "pageToken": token})
        pages.append([c["name"].rsplit("/", 1)[-1] for c in body["characters"]])
        token = body["nextPageToken"]
        if not token:
            return pages


async def test_paging_through_120_characters_with_and_without_filters(studio: Studio) -> None:
    ids = []
    for i in range(120):
        created = await studio.create(
            {"defaultCharacterDescription": {"givenName": f"Char {i:03d}"}}
        )
        ids.append(created["name"].rsplit("/", 1)[-1])
    assert ids[:2] == ["char_000", "char_001"]

    default = await _pages(studio, {})
    assert [len(p) for p in default] == [50, 50, 20]
    assert _flat(default) == ids
    assert [len(p) for p in await _pages(studio, {"pageSize": 1000})] == [120]
    assert [len(p) for p in await _pages(studio, {"pageSize": 5000})] == [120]
    assert _flat(await _pages(studio, {"pageSize": 7})) == ids

    chosen = ids[3::4]  # 30 characters
    text = " OR ".join(f"character.name=workspaces/ws1/characters/{i}" for i in chosen)
    filtered = await _pages(studio, {"pageSize": 7, "filter": text})
    assert [len(p) for p in filtered] == [7, 7, 7, 7, 2]
    assert _flat(filtered) == chosen

    quoted = f"character.name=\"workspaces/ws1/characters/{ids[5]}\" OR character.name='{ids[6]}'"
    assert _flat(await _pages(studio, {"filter": quoted})) == ids[5:7]
    both = f"character.name={ids[9]} AND (character.name={ids[9]} OR character.name={ids[10]})"
    assert _flat(await _pages(studio, {"filter": both})) == [ids[9]]
    negated = f"NOT character.name={ids[0]}"
    assert _flat(await _pages(studio, {"filter": negated, "pageSize": 100})) == ids[1:]
    other_ws = "character.name=workspaces/ws2/characters/char_000"
    assert _flat(await _pages(studio, {"filter": other_ws})) == []

    # a page token only continues the request it came from
    first = await studio.ok("GET", f"{BASE}/characters", params={"pageSize": 7, "filter": text})
    token = first["nextPageToken"]
    for changed in (
        {"pageSize": 7, "filter": ""},
        {"pageSize": 8, "filter": text},
        {"pageSize": 7, "filter": text, "view": "CHARACTER_VIEW_WITH_SCENES"},
    ):
        r = await studio.call("GET", f"{BASE}/characters", params={**changed, "pageToken": token})
        assert "different parameters" in bad_request(r, "pageToken")
    same = await studio.ok(
        "GET", f"{BASE}/characters", params={"pageSize": 7, "filter": text, "pageToken": token}
    )
    assert [c["name"].rsplit("/", 1)[-1] for c in same["characters"]] == chosen[7:14]


async def test_patch_merges_present_fields_or_follows_the_mask(studio: Studio) -> None:
    await studio.create(full_character())
    path = f"{BASE}/characters/axeon_the_enchanted"
    updated = await studio.ok(
        "PATCH",
        path,
        json={
            "defaultCharacterDescription": {"description": "Likes to sleep and sing."},
            "name": "x",
        },
    )
    expected = {"name": "workspaces/ws1/characters/axeon_the_enchanted", **full_character()}
    expected["defaultCharacterDescription"]["description"] = "Likes to sleep and sing."
    assert updated == expected
    assert await studio.ok("GET", path) == expected

    masked = await studio.ok(
        "PATCH",
        path,
        params={"updateMask": "personality.open,default_character_description.motivation"},
        json={"personality": {"open": -7, "positive": -7}, "defaultCharacterDescription": {}},
    )
    assert masked["personality"] == {**FULL_CHARACTER["personality"], "open": -7}
    assert masked["defaultCharacterDescription"]["motivation"] == ""
    assert masked["defaultCharacterDescription"]["givenName"] == "Axeon the Enchanted"
    r = await studio.call("PATCH", f"{BASE}/characters/nobody", json={})
    assert r.status_code == 404
    assert r.json()["error"]["status"] == "NOT_FOUND"


async def test_delete_returns_empty_and_removes(studio: Studio) -> None:
    await studio.create({"defaultCharacterDescription": {"givenName": "Gone"}})
    assert await studio.ok("DELETE", f"{BASE}/characters/gone") == {}
    for method in ("GET", "DELETE", "PATCH"):
        r = await studio.call(
            method, f"{BASE}/characters/gone", **({"json": {}} if method == "PATCH" else {})
        )
        assert r.status_code == 404, method
        assert "workspaces/ws1/characters/gone" in r.json()["error"]["message"]


async def test_list_with_scenes_view(studio: Studio) -> None:
    await studio.create({"defaultCharacterDescription": {"givenName": "A"}})
    await studio.create({"defaultCharacterDescription": {"givenName": "B"}})
    scene = await studio.create(
        {"displayName": "Tavern", "characters": [{"character": "workspaces/ws1/characters/a"}]},
        "scenes",
    )
    listed = await studio.ok(
        "GET", f"{BASE}/characters", params={"view": "CHARACTER_VIEW_WITH_SCENES"}
    )
    by_id = {c["name"].rsplit("/", 1)[-1]: c for c in listed["characters"]}
    assert by_id["a"]["scenes"] == [scene]
    assert by_id["b"]["scenes"] == []
    plain = await studio.ok("GET", f"{BASE}/characters")
    assert all("scenes" not in c for c in plain["characters"])
