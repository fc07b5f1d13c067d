"""Studio repos on SQLite and PostgreSQL: drafts, paging, versions, operations and leases."""

from __future__ import annotations

import asyncio

import pytest

from anima.domain import aip160
from anima.domain.character import Character, CharacterDescription, parse_character
from anima.domain.knowledge import parse_common_knowledge
from anima.domain.operation import OperationState
from anima.domain.resource import ResourceKind, name_filter
from anima.domain.scene import Scene, parse_scene
from anima.store import Store
from anima.store.characters import DeployedCharacter
from tests.domain.test_character import full_character


def named(given_name: str) -> Character:
    return Character(description=CharacterDescription(given_name=given_name))


@pytest.fixture
async def ws(store: Store) -> str:
    await store.keys.ensure_workspace("w")
    await store.keys.ensure_workspace("other")
    return "w"


async def test_create_get_and_collision_suffix(store: Store, ws: str) -> None:
    first = await store.characters.create(ws, parse_character(full_character()), "axeon")
    second = await store.characters.create(ws, named("Axeon"), "axeon")
    assert first.name == "workspaces/w/characters/axeon"
    assert second.id.startswith("axeon_")
    assert len(second.id) == len("axeon_") + 4
    got = await store.characters.get(ws, "axeon")
    assert got is not None
    assert got.to_json() == first.to_json()
    assert await store.characters.get("other", "axeon") is None
    assert await store.characters.exists(ws, "axeon")
    assert await store.characters.existing(ws, ["axeon", "nobody"]) == {"axeon"}


async def test_paging_in_creation_order_with_filter(store: Store, ws: str) -> None:
    for i in range(7):
        await store.characters.create(ws, named(f"c{i}"), f"c{i}")
    await store.characters.create("other", named("c0"), "c0")
    seen: list[str] = []
    cursor = None
    while True:
        items, cursor = await store.characters.page(ws, limit=3, after=cursor)
        seen += [c.id for c in items]
        if cursor is None:
            break
    assert seen == [f"c{i}" for i in range(7)]

    where = name_filter(
        aip160.parse(
            "name=c1 OR name=workspaces/w/characters/c5 OR name=workspaces/other/characters/c0"
        ),
        ws,
        ResourceKind.CHARACTER,
    )
    items, cursor = await store.characters.page(ws, limit=10, where=where)
    assert [c.id for c in items] == ["c1", "c5"]
    assert cursor is None
    where = name_filter(aip160.parse("NOT name=c1 AND -name=c2"), ws, ResourceKind.CHARACTER)
    items, _ = await store.characters.page(ws, limit=10, where=where)
    assert [c.id for c in items] == ["c0", "c3", "c4", "c5", "c6"]


async def test_concurrent_updates_lose_nothing(store: Store, ws: str) -> None:
    await store.characters.create(ws, named("A"), "a")

    async def add(nick: str) -> None:
        def change(c: Character) -> Character:
            d = c.description.model_copy(update={"nicknames": [*c.description.nicknames, nick]})
            return c.model_copy(update={"description": d})

        await store.characters.update(ws, "a", change)

    await asyncio.gather(*(add(f"n{i}") for i in range(12)))
    got = await store.characters.get(ws, "a")
    assert got is not None
    assert sorted(got.description.nicknames) == sorted(f"n{i}" for i in range(12))


async def test_update_and_delete_missing(store: Store, ws: str) -> None:
    assert await store.characters.update(ws, "ghost", lambda c: c) is None
    assert not await store.characters.delete(ws, "ghost")


async def test_deploy_versions_are_snapshots(store: Store, ws: str) -> None:
    await store.characters.create(ws, named("Before"), "a")
    op1 = await store.characters.start_deploy(ws, "a")
    assert op1 is not None
    await store.characters.update(ws, "a", lambda c: named("After"))
    op2 = await store.characters.start_deploy(ws, "a")
    assert op2 is not None
    assert (op1.version, op2.version) == (1, 2)
    assert op1.snapshot["defaultCharacterDescription"]["givenName"] == "Before"
    assert op1.name == f"workspaces/w/characters/a/operations/{op1.id}"
    assert await store.characters.get_deployed(ws, "a") is None

    # finishing out of order: the later request still wins
    for op in (op2, op1):
        resource = Character.model_validate(op.snapshot)
        deployed = await store.characters.finish_deploy(op, resource)
        assert isinstance(deployed, DeployedCharacter)
    latest = await store.characters.get_deployed(ws, "a")
    assert latest is not None
    assert latest.version == 2
    assert latest.character.description.given_name == "After"
    assert latest.character.name == "workspaces/w/characters/a"
    pinned = await store.characters.get_deployed_version(ws, "a", 1)
    assert pinned is not None
    assert pinned.character.description.given_name == "Before"
    assert await store.characters.get_deployed_version(ws, "a", 3) is None
    assert await store.characters.deployed_count(ws, "a") == 2
    done = await store.operations.get(op1.id)
    assert done is not None
    assert done.state is OperationState.SUCCEEDED
    assert done.response is not None
    assert done.response["name"] == "workspaces/w/characters/a"

    assert await store.characters.delete(ws, "a")
    assert await store.characters.get_deployed(ws, "a") is None
    assert await store.characters.get_deployed_version(ws, "a", 1) is None


async def test_a_recreated_resource_never_gets_the_old_ones_version(store: Store, ws: str) -> None:
    await store.characters.create(ws, named("Old"), "a")
    op = await store.characters.start_deploy(ws, "a")
    assert op is not None
    await store.characters.delete(ws, "a")
    await store.characters.create(ws, named("New"), "a")
    assert await store.characters.finish_deploy(op, Character.model_validate(op.snapshot)) is None
    assert await store.characters.get_deployed(ws, "a") is None


async def test_start_deploy_of_missing_is_none(store: Store, ws: str) -> None:
    assert await store.characters.start_deploy(ws, "ghost") is None
    assert await store.scenes.start_deploy(ws, "ghost") is None


async def test_operation_leases(store: Store, ws: str) -> None:
    await store.characters.create(ws, named("A"), "a")
    op = await store.characters.start_deploy(ws, "a")
    assert op is not None
    assert [o.id for o in await store.operations.unfinished()] == [op.id]
    claimed = await store.operations.claim(op.id, 60)
    assert claimed is not None
    assert claimed.state is OperationState.RUNNING
    assert claimed.attempts == 1
    assert await store.operations.claim(op.id, 60) is None  # held
    assert await store.operations.unfinished() == []
    assert await store.operations.renew(op.id, -1)  # let the lease lapse
    again = await store.operations.claim(op.id, 60)
    assert again is not None
    assert again.attempts == 2
    await store.operations.release(op.id)
    back = await store.operations.get(op.id)
    assert back is not None
    assert back.state is OperationState.PENDING
    assert back.attempts == 1


async def test_scenes_and_knowledge_repos(store: Store, ws: str) -> None:
    k = await store.knowledge.create(
        ws,
        parse_common_knowledge(
            {"displayName": "Dragons", "knowledgeRecords": [{"text": "Dragons fly."}]}
        ),
        "dragons",
    )
    assert k.name == "workspaces/w/common-knowledge/dragons"
    s = await store.scenes.create(
        ws,
        parse_scene({"displayName": "Tavern", "characters": ["workspaces/w/characters/a"]}),
        "tavern",
    )
    assert s.name == "workspaces/w/scenes/tavern"
    assert s.character_refs() == ["workspaces/w/characters/a"]
    op = await store.scenes.start_deploy(ws, "tavern")
    assert op is not None
    assert op.kind is ResourceKind.SCENE
    deployed = await store.scenes.finish_deploy(op, Scene.model_validate(op.snapshot))
    assert deployed is not None
    assert deployed.scene.display_name == "Tavern"
