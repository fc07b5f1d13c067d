"""The auth matrix of rest-api.md#auth on a protected route."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from fastapi import FastAPI

from anima.api.auth import REVOCATION_POLL_SECONDS
from anima.domain.credentials import Scope
from tests.conftest import make_key

ROUTE = "/studio/v1/workspaces/ws1"


def _assert_error(r: httpx.Response, code: int, status: str) -> None:
    assert r.status_code == code, r.text
    body = r.json()
    assert body["error"]["code"] == code
    assert body["error"]["status"] == status
    assert body["error"]["message"]


async def test_valid_key_passes(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.get(ROUTE, headers=auth)
    assert r.status_code == 200
    assert r.json() == {"name": "workspaces/ws1"}


async def test_missing_header_is_401(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    _assert_error(await client.get(ROUTE), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "Basic not-base64!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"unknownkey:secret").decode(),
        "Basic",
    ],
)
async def test_malformed_or_unknown_is_401(
    client: httpx.AsyncClient, auth: dict[str, str], header: str
) -> None:
    _assert_error(
        await client.get(ROUTE, headers={"Authorization": header}), 401, "UNAUTHENTICATED"
    )


async def test_wrong_secret_is_401(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    key = base64.b64decode(auth["Authorization"].split()[1]).decode().split(":")[0]
    wrong = base64.b64encode(f"{key}:wrongsecret".encode()).decode()
    _assert_error(
        await client.get(ROUTE, headers={"Authorization": f"Basic {wrong}"}), 401, "UNAUTHENTICATED"
    )


async def test_wrong_secret_after_a_good_one_is_still_401(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    assert (await client.get(ROUTE, headers=auth)).status_code == 200
    key = base64.b64decode(auth["Authorization"].split()[1]).decode().split(":")[0]
    wrong = base64.b64encode(f"{key}:x".encode()).decode()
    _assert_error(
        await client.get(ROUTE, headers={"Authorization": f"Basic {wrong}"}), 401, "UNAUTHENTICATED"
    )


async def test_other_workspace_key_is_403(app: FastAPI, client: httpx.AsyncClient) -> None:
    other = await make_key(app, "ws2")
    await make_key(app, "ws1")
    _assert_error(
        await client.get(ROUTE, headers={"Authorization": other}), 403, "PERMISSION_DENIED"
    )


async def test_runtime_key_on_studio_is_403(app: FastAPI, client: httpx.AsyncClient) -> None:
    runtime = await make_key(app, "ws1", Scope.RUNTIME)
    r = await client.get(ROUTE, headers={"Authorization": runtime})
    _assert_error(r, 403, "PERMISSION_DENIED")
    assert "scope" in r.json()["error"]["message"]


async def test_studio_key_on_studio_passes(app: FastAPI, client: httpx.AsyncClient) -> None:
    studio = await make_key(app, "ws1", Scope.STUDIO)
    assert (await client.get(ROUTE, headers={"Authorization": studio})).status_code == 200


async def test_revoked_key_is_401_within_a_second(
    app: FastAPI, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    assert (await client.get(ROUTE, headers=auth)).status_code == 200
    key = base64.b64decode(auth["Authorization"].split()[1]).decode().split(":")[0]
    assert await app.state.anima.store.keys.revoke(key)
    await asyncio.sleep(REVOCATION_POLL_SECONDS)
    _assert_error(await client.get(ROUTE, headers=auth), 401, "UNAUTHENTICATED")


async def test_bearer_type_header_is_accepted(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    headers = {**auth, "Grpc-Metadata-X-Authorization-Bearer-Type": "studio_api"}
    assert (await client.get(ROUTE, headers=headers)).status_code == 200
