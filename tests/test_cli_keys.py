"""`anima keys` end to end: a real subprocess, a real store, then the key used on the API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from anima.api.auth import REVOCATION_POLL_SECONDS
from anima.app import create_app
from anima.settings import Settings
from tests.server import anima


async def test_keys_create_list_revoke_and_use(tmp_path: Path) -> None:
    data = tmp_path / "d"
    created = anima(
        "keys", "create", "--workspace", "game", "--scope", "runtime", "--json", data_dir=data
    )
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    assert info["workspace"] == "game"
    assert info["authorization"].startswith("Basic ")

    text_out = anima("keys", "create", "--workspace", "game", data_dir=data)
    assert "Authorization: Basic " in text_out.stdout
    assert "cannot be shown again" in text_out.stdout

    listed = json.loads(anima("keys", "list", "--json", data_dir=data).stdout)
    assert {k["key"] for k in listed} >= {info["key"]}
    assert all("secret" not in k for k in listed)
    assert info["secret"] not in anima("keys", "list", data_dir=data).stdout

    app = create_app(Settings(data_dir=data))
    async with LifespanManager(app, startup_timeout=120):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"Authorization": info["authorization"]}
            # runtime scope: studio refused with 403, proving the key authenticated
            assert (
                await client.get("/studio/v1/workspaces/game", headers=headers)
            ).status_code == 403

            revoked = anima("keys", "revoke", info["key"], data_dir=data)
            assert revoked.returncode == 0
            await asyncio.sleep(REVOCATION_POLL_SECONDS)  # every worker sees it within this
            assert (
                await client.get("/studio/v1/workspaces/game", headers=headers)
            ).status_code == 401

    again = anima("keys", "revoke", info["key"], data_dir=data)
    assert again.returncode == 1
    assert "keys list" in again.stderr


def test_bad_workspace_name(tmp_path: Path) -> None:
    r = anima("keys", "create", "--workspace", "no spaces!", data_dir=tmp_path)
    assert r.returncode == 2
    assert "workspace names" in r.stderr


def test_first_run_creates_default_once(tmp_path: Path) -> None:
    import asyncio

    from anima.first_run import DEMO_ID, announce, first_run
    from anima.store import Store

    async def go() -> tuple[object, object, bool]:
        store = await Store.open(Settings(data_dir=tmp_path))
        try:
            first, second = await first_run(store), await first_run(store)
            deployed = await store.characters.get_deployed("default", DEMO_ID) is not None
            return first, second, deployed
        finally:
            await store.close()

    first, second, deployed = asyncio.run(go())
    from anima.first_run import FirstRun

    assert isinstance(first, FirstRun)
    assert first.authorization.startswith("Basic ")
    assert first.character == DEMO_ID
    assert deployed
    assert second is None
    text = announce(first, Settings())
    assert (
        "curl -X POST http://127.0.0.1:8000/v1/workspaces/default/characters/mara:simpleSendText"
        in text
    )
    assert f"anima chat --url http://127.0.0.1:8000 --character mara --key {first.key}" in text
