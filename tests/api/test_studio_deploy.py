"""Deploys: operations off the request path, immutable versions, failures that keep the
previous version, concurrent edits and deploys, and recovery after a stopped process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from anima.domain.operation import Operation, OperationState
from anima.errors import FailedPrecondition
from anima.pipeline.deploy import Deployer
from anima.settings import Settings
from tests.api.studio_helpers import BASE, Studio, open_studio
from tests.domain.test_character import FULL_CHARACTER, full_character

AXEON = "workspaces/ws1/characters/axeon"


@pytest.fixture
async def studio(db_settings: Settings) -> AsyncIterator[Studio]:
    async with open_studio(db_settings) as s:
        yield s


async def _axeon(studio: Studio, description: str = "v1") -> None:
    body = {"defaultCharacterDescription": {"givenName": "Axeon", "description": description}}
    assert (await studio.create(body))["name"] == AXEON


async def test_deploy_returns_an_operation_and_stores_a_version(studio: Studio) -> None:
    await _axeon(studio)
    op = await studio.ok("POST", f"/studio/v1/{AXEON}:deploy")
    assert op["done"] is False
    assert op["metadata"]["resource"] == AXEON
    assert op["metadata"]["version"] == 1
    assert "response" not in op
    assert "error" not in op
    await studio.deployer.wait()
    done = await studio.ok("GET", f"/studio/v1/{op['name']}")
    assert done["done"] is True
    assert done["metadata"]["state"] == "SUCCEEDED"
    draft = await studio.ok("GET", f"/studio/v1/{AXEON}")
    assert done["response"] == draft

    deployed = await studio.store.characters.get_deployed("ws1", "axeon")
    assert deployed is not None
    assert deployed.version == 1
    assert deployed.character.to_json() == draft


async def test_full_character_deploys_with_its_knowledge(studio: Studio) -> None:
    knowledge = await studio.create(
        {"displayName": "Dragons", "knowledgeRecords": [{"text": "Dragons breathe fire."}]},
        "common-knowledge",
    )
    assert knowledge["name"] == "workspaces/ws1/common-knowledge/dragons"
    created = await studio.create(full_character())
    done = await studio.deploy(created["name"])
    assert "error" not in done, done
    assert done["response"] == {"name": created["name"], **FULL_CHARACTER}


async def test_edits_change_only_the_draft(studio: Studio) -> None:
    await _axeon(studio, "deployed")
    await studio.deploy(AXEON)
    await studio.ok(
        "PATCH",
        f"/studio/v1/{AXEON}",
        json={"defaultCharacterDescription": {"description": "draft"}},
    )
    deployed = await studio.store.characters.get_deployed("ws1", "axeon")
    assert deployed is not None
    assert deployed.character.description.description == "deployed"
    assert (await studio.ok("GET", f"/studio/v1/{AXEON}"))["defaultCharacterDescription"][
        "description"
    ] == "draft"


async def test_failed_deploy_reports_why_and_keeps_the_previous_version(studio: Studio) -> None:
    await _axeon(studio, "good")
    assert "error" not in await studio.deploy(AXEON)

    await studio.ok(
        "PATCH",
        f"/studio/v1/{AXEON}",
        json={"yamlConfig": "goals: [oops", "defaultCharacterDescription": {"description": "bad"}},
    )
    failed = await studio.deploy(AXEON)
    assert failed["metadata"]["state"] == "FAILED"
    assert "response" not in failed
    assert failed["error"]["code"] == FailedPrecondition.grpc_code
    assert "yamlConfig line 1" in failed["error"]["message"]
    violations = failed["error"]["details"][0]["violations"]
    assert violations[0]["subject"] == "yamlConfig"

    await studio.ok(
        "PATCH",
        f"/studio/v1/{AXEON}",
        json={
            "yamlConfig": "",
            "commonKnowledge": [
                "workspaces/ws1/common-knowledge/missing",
                "workspaces/ws2/common-knowledge/x",
            ],
        },
    )
    failed = await studio.deploy(AXEON)
    message = failed["error"]["message"]
    assert "commonKnowledge[0] 'workspaces/ws1/common-knowledge/missing'" in message
    assert "commonKnowledge[1] 'workspaces/ws2/common-knowledge/x'" in message

    deployed = await studio.store.characters.get_deployed("ws1", "axeon")
    assert deployed is not None
    assert deployed.version == 1
    assert deployed.character.description.description == "good"


async def test_deploying_twice_in_a_row_keeps_each_snapshot(studio: Studio) -> None:
    await _axeon(studio, "first")
    op1 = await studio.ok("POST", f"/studio/v1/{AXEON}:deploy")
    await studio.ok(
        "PATCH",
        f"/studio/v1/{AXEON}",
        json={"defaultCharacterDescription": {"description": "second"}},
    )
    op2 = await studio.ok("POST", f"/studio/v1/{AXEON}:deploy")
    await studio.deployer.wait()
    assert (op1["metadata"]["version"], op2["metadata"]["version"]) == (1, 2)
    for op, text in ((op1, "first"), (op2, "second")):
        done = await studio.ok("GET", f"/studio/v1/{op['name']}")
        assert done["response"]["defaultCharacterDescription"]["description"] == text
    characters = studio.store.characters
    latest = await characters.get_deployed("ws1", "axeon")
    assert latest is not None
    assert latest.version == 2
    assert latest.character.description.description == "second"
    v1 = await characters.get_deployed_version("ws1", "axeon", 1)
    assert v1 is not None
    assert v1.character.description.description == "first"


class _Gate:
    """A deploy step that holds every deploy until released."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def prepare(self, operation: Operation, resource: BaseModel) -> None:
        self.entered.set()
        await self.release.wait()


async def test_an_edit_during_a_deploy_is_not_in_that_version(studio: Studio) -> None:
    await _axeon(studio, "requested")
    gate = _Gate()
    studio.deployer.preparers.append(gate)
    op = await studio.ok("POST", f"/studio/v1/{AXEON}:deploy")
    await gate.entered.wait()
    during = await studio.ok("GET", f"/studio/v1/{op['name']}")
    assert during["done"] is False
    assert during["metadata"]["state"] == "RUNNING"
    await studio.ok(
        "PATCH",
        f"/studio/v1/{AXEON}",
        json={
            "defaultCharacterDescription": {"description": "edited meanwhile", "motivation": "new"}
        },
    )
    gate.release.set()
    await studio.deployer.wait()
    deployed = await studio.store.characters.get_deployed("ws1", "axeon")
    assert deployed is not None
    assert deployed.character.description.description == "requested"
    assert deployed.character.description.motivation == ""


async def test_concurrent_edits_and_deploys_never_mix_versions(studio: Studio) -> None:
    both = {"givenName": "Axeon", "description": "s0", "motivation": "s0"}
    await studio.create({"defaultCharacterDescription": both})

    async def edit(i: int) -> None:
        both = {"description": f"s{i}", "motivation": f"s{i}"}
        await studio.ok("PATCH", f"/studio/v1/{AXEON}", json={"defaultCharacterDescription": both})

    async def deploy() -> dict[str, Any]:
        return await studio.ok("POST", f"/studio/v1/{AXEON}:deploy")

    jobs: list[Any] = []
    for i in range(1, 13):
        jobs.append(edit(i))
        if i % 3 == 0:
            jobs.append(deploy())
    results = await asyncio.gather(*jobs)
    await studio.deployer.wait()
    ops = [r for r in results if r is not None]
    assert sorted(op["metadata"]["version"] for op in ops) == [1, 2, 3, 4]

    draft = await studio.ok("GET", f"/studio/v1/{AXEON}")
    d = draft["defaultCharacterDescription"]
    assert d["description"] == d["motivation"]  # no edit was half-applied
    for op in ops:
        done = await studio.ok("GET", f"/studio/v1/{op['name']}")
        version = await studio.store.characters.get_deployed_version(
            "ws1", "axeon", op["metadata"]["version"]
        )
        assert version is not None
        c = version.character.description
        assert c.description == c.motivation  # each version is one whole draft
        assert done["response"]["defaultCharacterDescription"]["description"] == c.description
    latest = await studio.store.characters.get_deployed("ws1", "axeon")
    assert latest is not None
    assert latest.version == 4


async def test_operations_and_deploys_of_unknown_things_are_404(studio: Studio) -> None:
    await _axeon(studio)
    r = await studio.call("POST", f"{BASE}/characters/ghost:deploy")
    assert r.status_code == 404
    op = await studio.deploy(AXEON)
    op_id = op["name"].rsplit("/", 1)[-1]
    assert (await studio.call("GET", f"{BASE}/characters/axeon/operations/nope")).status_code == 404
    await studio.create({"defaultCharacterDescription": {"givenName": "Other"}})
    assert (
        await studio.call("GET", f"{BASE}/characters/other/operations/{op_id}")
    ).status_code == 404
    assert (await studio.call("GET", f"{BASE}/scenes/axeon/operations/{op_id}")).status_code == 404


async def test_deleted_while_deploying_fails_cleanly(studio: Studio) -> None:
    await _axeon(studio)
    gate = _Gate()
    studio.deployer.preparers.append(gate)
    op = await studio.ok("POST", f"/studio/v1/{AXEON}:deploy")
    await gate.entered.wait()
    assert await studio.ok("DELETE", f"/studio/v1/{AXEON}") == {}
    gate.release.set()
    await studio.deployer.wait()
    done = await studio.ok("GET", f"/studio/v1/{op['name']}")
    assert done["error"]["code"] == 5
    assert "deleted" in done["error"]["message"]
    assert await studio.store.characters.get_deployed("ws1", "axeon") is None


async def test_pending_operations_of_a_stopped_process_are_resumed_or_failed(
    db_settings: Settings,
) -> None:
    async with open_studio(db_settings) as studio:
        await _axeon(studio, "resume me")
        await studio.create({"defaultCharacterDescription": {"givenName": "Stuck"}})
        # requests whose process died before its job ran, or while it ran (3 times)
        pending = await studio.store.characters.start_deploy("ws1", "axeon")
        stuck = await studio.store.characters.start_deploy("ws1", "stuck")
        assert pending is not None
        assert stuck is not None
        for _ in range(3):
            assert await studio.store.operations.claim(stuck.id, -1) is not None

    async with open_studio(db_settings) as studio:
        await studio.deployer.wait()
        resumed = await studio.ok("GET", f"/studio/v1/{AXEON}/operations/{pending.id}")
        assert resumed["done"] is True
        assert resumed["response"]["defaultCharacterDescription"]["description"] == "resume me"
        failed = await studio.ok(
            "GET", f"/studio/v1/workspaces/ws1/characters/stuck/operations/{stuck.id}"
        )
        assert failed["done"] is True
        assert "interrupted 3 times" in failed["error"]["message"]
        assert await studio.store.characters.get_deployed("ws1", "stuck") is None


async def test_a_running_job_stopped_with_the_app_is_given_back(db_settings: Settings) -> None:
    async with open_studio(db_settings) as studio:
        await _axeon(studio)
        gate = _Gate()
        studio.deployer.preparers.append(gate)
        op = await studio.ok("POST", f"/studio/v1/{AXEON}:deploy")
        await gate.entered.wait()
        op_id = op["name"].rsplit("/", 1)[-1]
    async with open_studio(db_settings) as studio:
        await studio.deployer.wait()
        done = await studio.ok("GET", f"/studio/v1/{AXEON}/operations/{op_id}")
        assert done["done"] is True
        assert "error" not in done


async def test_two_deployers_run_each_operation_once(studio: Studio) -> None:
    await _axeon(studio)
    op = await studio.store.characters.start_deploy("ws1", "axeon")
    assert op is not None
    calls: list[str] = []

    class Count:
        async def prepare(self, operation: Operation, resource: BaseModel) -> None:
            calls.append(operation.id)
            await asyncio.sleep(0)

    a = Deployer(studio.store, preparers=[Count()])
    b = Deployer(studio.store, preparers=[Count()])
    await asyncio.gather(a.run(op.id), b.run(op.id), a.run(op.id))
    assert calls == [op.id]
    final = await studio.store.operations.get(op.id)
    assert final is not None
    assert final.state is OperationState.SUCCEEDED


# -- scenes and common knowledge ---------------------------------------------


async def test_scene_life_cycle(studio: Studio) -> None:
    await _axeon(studio)
    await studio.create(
        {"displayName": "Lore", "knowledgeRecords": [{"text": "The bridge is out."}]},
        "common-knowledge",
    )
    body = {
        "displayName": "River Crossing",
        "description": "A ferry at dusk.",
        "characters": [{"character": AXEON, "displayTitle": "Ferryman"}],
        "commonKnowledge": ["workspaces/ws1/common-knowledge/lore"],
    }
    scene = await studio.create(body, "scenes")
    name = "workspaces/ws1/scenes/river_crossing"
    assert scene == {
        "name": name,
        **body,
        "characters": [{**body["characters"][0], "characterDescription": ""}],
    }
    assert await studio.ok("GET", f"/studio/v1/{name}") == scene
    listed = await studio.ok("GET", f"{BASE}/scenes", params={"filter": f"scene.name={name}"})
    assert listed == {"scenes": [scene], "nextPageToken": ""}
    patched = await studio.ok(
        "PATCH", f"/studio/v1/{name}", json={"description": "A ferry at dawn."}
    )
    assert patched["description"] == "A ferry at dawn."
    assert patched["displayName"] == "River Crossing"

    done = await studio.deploy(name)
    assert done["response"] == patched
    deployed = await studio.store.scenes.get_deployed("ws1", "river_crossing")
    assert deployed is not None
    assert deployed.scene.description == "A ferry at dawn."
    assert deployed.scene.character_refs() == [AXEON]

    await studio.ok(
        "PATCH",
        f"/studio/v1/{name}",
        json={"characters": [AXEON, "workspaces/ws1/characters/ghost"]},
    )
    failed = await studio.deploy(name)
    assert "characters[1].character 'workspaces/ws1/characters/ghost'" in failed["error"]["message"]
    still = await studio.store.scenes.get_deployed("ws1", "river_crossing")
    assert still is not None
    assert still.version == 1

    assert await studio.ok("DELETE", f"/studio/v1/{name}") == {}
    assert (await studio.call("GET", f"/studio/v1/{name}")).status_code == 404


async def test_common_knowledge_life_cycle(studio: Studio) -> None:
    body = {
        "displayName": "World Facts",
        "description": "Shared",
        "knowledgeRecords": [{"text": "Water is wet."}],
    }
    created = await studio.create(body, "common-knowledge")
    name = "workspaces/ws1/common-knowledge/world_facts"
    assert created == {"name": name, **body}
    for i in range(3):
        await studio.create({"displayName": f"K{i}"}, "common-knowledge")
    page = await studio.ok("GET", f"{BASE}/common-knowledge", params={"pageSize": 2})
    assert len(page["commonKnowledge"]) == 2
    rest = await studio.ok(
        "GET",
        f"{BASE}/common-knowledge",
        params={"pageSize": 2, "pageToken": page["nextPageToken"]},
    )
    assert [k["displayName"] for k in rest["commonKnowledge"]] == ["K1", "K2"]
    assert rest["nextPageToken"] == ""
    filtered = await studio.ok(
        "GET", f"{BASE}/common-knowledge", params={"filter": f'commonKnowledge.name="{name}"'}
    )
    assert filtered["commonKnowledge"] == [created]
    r = await studio.call(
        "POST", f"{BASE}/common-knowledge", json={"knowledgeRecords": [{"text": "x" * 2001}]}
    )
    assert r.status_code == 400
    updated = await studio.ok(
        "PATCH",
        f"/studio/v1/{name}",
        params={"updateMask": "knowledgeRecords"},
        json={"knowledgeRecords": [{"text": "Fire is hot."}]},
    )
    assert updated["knowledgeRecords"] == [{"text": "Fire is hot."}]
    assert updated["description"] == "Shared"
    done = await studio.deploy(name)
    assert done["response"] == updated
    deployed = await studio.store.knowledge.get_deployed("ws1", "world_facts")
    assert deployed is not None
    assert deployed.knowledge.knowledge_records[0].text == "Fire is hot."
    assert await studio.ok("DELETE", f"/studio/v1/{name}") == {}
