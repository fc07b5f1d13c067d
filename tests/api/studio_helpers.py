"""A Studio client over the in-process app, for the test_studio_* modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from anima.app import create_app
from anima.pipeline.deploy import Deployer
from anima.settings import Settings
from anima.store import Store
from tests.conftest import make_key

BASE = "/studio/v1/workspaces/ws1"


@dataclass
class Studio:
    app: FastAPI
    client: httpx.AsyncClient
    headers: dict[str, str]

    @property
    def store(self) -> Store:
        store: Store = self.app.state.anima.store
        return store

    @property
    def deployer(self) -> Deployer:
        deployer: Deployer = self.app.state.anima.extras["deployer"]
        return deployer

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kw)

    async def ok(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        r = await self.call(method, path, **kw)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def create(self, body: dict[str, Any], collection: str = "characters") -> dict[str, Any]:
        return await self.ok("POST", f"{BASE}/{collection}", json=body)

    async def deploy(self, name: str) -> dict[str, Any]:
        """Deploy ``name`` (a resource name), wait for the job, return the finished Operation."""
        op = await self.ok("POST", f"/studio/v1/{name}:deploy")
        assert op["name"].startswith(f"{name}/operations/")
        await self.deployer.wait()
        done = await self.ok("GET", f"/studio/v1/{op['name']}")
        assert done["done"] is True
        return done


def bad_request(r: httpx.Response, field: str | None = None) -> str:
    """Assert a 400 in the error shape (naming ``field`` if given); return its message."""
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    if field is not None:
        fields = [v["field"] for d in error["details"] for v in d.get("fieldViolations", [])]
        assert field in fields, error
    message: str = error["message"]
    return message


@asynccontextmanager
async def open_studio(settings: Settings) -> AsyncIterator[Studio]:
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=120):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://anima.test") as c:
            yield Studio(app, c, {"Authorization": await make_key(app, "ws1")})
