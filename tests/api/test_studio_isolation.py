"""Workspace isolation on every Studio route, and the seed's curl examples as written."""

from __future__ import annotations

import json
import shlex
from collections.abc import AsyncIterator
from typing import Any

import pytest

from anima.domain.credentials import Scope
from anima.settings import Settings
from tests.api.studio_helpers import Studio, open_studio
from tests.conftest import make_key

# (method, path, body) for every Studio route, on workspace ws1.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = []
for _collection, _id in (
    ("characters", "axeon"),
    ("scenes", "tavern"),
    ("common-knowledge", "lore"),
):
    _base = f"/studio/v1/workspaces/ws1/{_collection}"
    ROUTES += [
        ("POST", _base, {}),
        ("GET", _base, None),
        ("GET", f"{_base}/{_id}", None),
        ("PATCH", f"{_base}/{_id}", {}),
        ("DELETE", f"{_base}/{_id}", None),
        ("POST", f"{_base}/{_id}:deploy", None),
        ("GET", f"{_base}/{_id}/operations/op", None),
    ]
ROUTES.append(("GET", "/studio/v1/workspaces/ws1/characters/axeon/safetyEvents", None))


@pytest.fixture
async def studio(db_settings: Settings) -> AsyncIterator[Studio]:
    async with open_studio(db_settings) as s:
        await s.create({"defaultCharacterDescription": {"givenName": "Axeon"}})
        await s.create({"displayName": "Tavern"}, "scenes")
        await s.create({"displayName": "Lore"}, "common-knowledge")
        yield s


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_other_workspace_key_is_403_on_every_route(
    studio: Studio, method: str, path: str, body: dict[str, Any] | None
) -> None:
    other = await make_key(studio.app, "ws2")
    r = await studio.client.request(method, path, headers={"Authorization": other}, json=body)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["status"] == "PERMISSION_DENIED"
    runtime = await make_key(studio.app, "ws1", Scope.RUNTIME)
    r = await studio.client.request(method, path, headers={"Authorization": runtime}, json=body)
    assert r.status_code == 403, r.text
    assert (await studio.client.request(method, path, json=body)).status_code == 401


async def test_a_workspace_sees_nothing_of_another(studio: Studio) -> None:
    op = await studio.deploy("workspaces/ws1/characters/axeon")
    op_id = op["name"].rsplit("/", 1)[-1]
    ws2 = {"Authorization": await make_key(studio.app, "ws2")}
    base = "/studio/v1/workspaces/ws2"

    async def call(method: str, path: str, body: dict[str, Any] | None = None) -> int:
        r = await studio.client.request(method, base + path, headers=ws2, json=body)
        return r.status_code

    for collection, rid in (
        ("characters", "axeon"),
        ("scenes", "tavern"),
        ("common-knowledge", "lore"),
    ):
        listed = await studio.client.get(f"{base}/{collection}", headers=ws2)
        assert listed.status_code == 200
        assert next(iter(listed.json().values())) == []
        assert await call("GET", f"/{collection}/{rid}") == 404
        assert await call("PATCH", f"/{collection}/{rid}", {}) == 404
        assert await call("POST", f"/{collection}/{rid}:deploy") == 404
        assert await call("DELETE", f"/{collection}/{rid}") == 404
    assert await call("GET", f"/characters/axeon/operations/{op_id}") == 404
    filtered = await studio.client.get(
        f"{base}/characters",
        headers=ws2,
        params={"filter": "character.name=workspaces/ws1/characters/axeon"},
    )
    assert filtered.json()["characters"] == []

    # the same id in ws2 is a different character
    r = await studio.client.post(
        f"{base}/characters",
        headers=ws2,
        json={"defaultCharacterDescription": {"givenName": "Axeon"}},
    )
    assert r.json()["name"] == "workspaces/ws2/characters/axeon"
    assert await studio.store.characters.get_deployed("ws2", "axeon") is None
    deployed = await studio.store.characters.get_deployed("ws1", "axeon")
    assert deployed is not None


# -- the seed's examples ------------------------------------------------------

# Copied from the public documentation (seed 002), character for character.
SEED_CURLS = [
    """curl -L -X POST 'https://api.inworld.ai/studio/v1/workspaces/{workspace_id}/characters/' \\
-H 'Grpc-Metadata-X-Authorization-Bearer-Type: studio_api' \\
-H 'Content-Type: application/json' \\
-H 'Authorization: Basic WlpONVlON01ETU5HSQ==' \\
-d '{
"defaultCharacterDescription": {
"description": "Fearless warrior",
"motivation": "Likes to fight against dragons",
"givenName": "Axeon the Enchanted"
}
}'""",
    """curl -L -X GET 'https://api.inworld.ai/studio/v1/workspaces/{workspace_id}/characters/{character_name}' \\
-H 'Grpc-Metadata-X-Authorization-Bearer-Type: studio_api' \\
-H 'Content-Type: application/json' \\
-H 'Authorization: Basic $INWORLD_STUDIO_API_KEY'""",
    """curl -L -X POST 'https://api.inworld.ai/studio/v1/workspaces/{workspace_id}/characters/{character_name}:deploy' \\
-H 'Grpc-Metadata-X-Authorization-Bearer-Type: studio_api' \\
-H 'Content-Type: application/json' \\
-H 'Authorization: Basic WlpONVlON01ETU5HSQ=='""",
    """curl -L -X GET 'https://api.inworld.ai/studio/v1/workspaces/{workspace_id}/characters' \\
-H 'Grpc-Metadata-X-Authorization-Bearer-Type: studio_api' \\
-H 'Content-Type: application/json' \\
-H 'Authorization: Basic WlpONVlON01ETU5HSQ=='""",
    """curl -L -X PATCH 'https://api.inworld.ai/studio/v1/workspaces/{workspace_id}}/characters/{character_name}' \\
-H 'Grpc-Metadata-X-Authorization-Bearer-Type: studio_api' \\
-H 'Content-Type: application/json' \\
-H 'Authorization: Basic WlpONVlON01ETU5HSQ==' \\
-d '{
"defaultCharacterDescription": {
"description": "Likes to sleep and sing."
}
}'""",
    """curl -L -X GET 'https://api.inworld.ai/studio/v1/workspaces/{workspace_id}/characters/{character_name}/operations/{operation_id}' \\
-H 'Grpc-Metadata-X-Authorization-Bearer-Type: studio_api' \\
-H 'Content-Type: application/json' \\
-H 'Authorization: Basic WlpONVlON01ETU5HSQ=='""",
    """curl -L -X DELETE 'https://api.inworld.ai/studio/v1/workspaces/{workspace_id}/characters/{character_name}' \\
-H 'Grpc-Metadata-X-Authorization-Bearer-Type: studio_api' \\
-H 'Content-Type: application/json' \\
-H 'Authorization: Basic WlpONVlON01ETU5HSQ=='""",
]


def parse_curl(
    command: str, values: dict[str, str], auth: str
) -> tuple[str, str, dict[str, str], str | None]:
    """(method, path, headers, body) of a curl command. Placeholders are filled in (the PATCH
    example's stray brace in ``{workspace_id}}`` included) and the example key is replaced."""
    words = shlex.split(command.replace("\\\n", " "))  # line continuations, as a shell does
    assert words[:2] == ["curl", "-L"]
    method, url, headers, body = "GET", "", {}, None
    i = 2
    while i < len(words):
        word = words[i]
        if word == "-X":
            method, i = words[i + 1], i + 2
        elif word == "-H":
            key, _, value = words[i + 1].partition(": ")
            headers[key] = auth if key == "Authorization" else value
            i += 2
        elif word == "-d":
            body, i = words[i + 1], i + 2
        else:
            url, i = word, i + 1
    path = url.removeprefix("https://api.inworld.ai")
    path = path.replace("{workspace_id}}", "{workspace_id}")
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    return method, path, headers, body


async def test_the_seed_curl_examples_work_as_written(studio: Studio) -> None:
    values = {"workspace_id": "ws1", "character_name": "axeon_the_enchanted"}
    responses: list[dict[str, Any]] = []
    for command in SEED_CURLS:
        method, path, headers, body = parse_curl(command, values, studio.headers["Authorization"])
        assert "{" not in path
        r = await studio.client.request(method, path, headers=headers, content=body)
        assert r.status_code == 200, (path, r.text)
        responses.append(r.json())
        if path.endswith(":deploy"):
            await studio.deployer.wait()
            values["operation_id"] = r.json()["name"].rsplit("/", 1)[-1]

    created, got, deploy, listed, patched, operation, deleted = responses
    assert created["name"] == "workspaces/ws1/characters/axeon_the_enchanted"
    d = created["defaultCharacterDescription"]
    assert (d["givenName"], d["description"], d["motivation"]) == (
        "Axeon the Enchanted",
        "Fearless warrior",
        "Likes to fight against dragons",
    )
    assert got == created
    assert deploy["done"] is False
    assert created in listed["characters"]
    assert patched["defaultCharacterDescription"]["description"] == "Likes to sleep and sing."
    assert patched["defaultCharacterDescription"]["givenName"] == "Axeon the Enchanted"
    assert operation["done"] is True
    assert operation["response"] == created
    assert deleted == {}
    assert json.loads(SEED_CURLS[0].split("-d '", 1)[1].rstrip("'"))  # the body is JSON
