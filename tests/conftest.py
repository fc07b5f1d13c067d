"""Shared fixtures: isolated settings, the real store on SQLite and PostgreSQL, app clients."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from anima.app import create_app
from anima.domain.credentials import Scope, new_key_pair
from anima.settings import Settings
from anima.store import Store

PG_URL = os.environ.get(
    "ANIMA_TEST_DATABASE_URL", "postgresql+asyncpg://anima:anima@127.0.0.1:5432/anima_test"
)
_pg_state: dict[str, str | None] = {}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ANIMA_* variable of the developer's shell and no .env file leak into a test."""
    for name in list(os.environ):
        if name.startswith("ANIMA_") and not name.startswith("ANIMA_TEST_"):
            monkeypatch.delenv(name)
    # Text only unless a test asks for speech (tests/pipeline/test_voice.py and the speech
    # tests of the faces and SDKs set tts_backend themselves): loading and running the
    # voice in every app of the suite would cost minutes.
    monkeypatch.setenv("ANIMA_TTS_BACKEND", "off")
    monkeypatch.chdir(tmp_path)


def _pg_unavailable_reason() -> str | None:
    if "reason" in _pg_state:
        return _pg_state["reason"]

    async def probe() -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
        reason = None
    except Exception as exc:
        reason = f"no PostgreSQL at {PG_URL} ({type(exc).__name__}); set ANIMA_TEST_DATABASE_URL or run .ci/run"
    _pg_state["reason"] = reason
    return reason


def require_postgres() -> None:
    reason = _pg_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", llm_backend="scripted", embed_backend="hashing")


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings on a real PostgreSQL, in a schema of its own that is dropped afterwards."""
    require_postgres()
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    raw = PG_URL.replace("+asyncpg", "")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(raw)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    yield Settings(
        data_dir=tmp_path / "data",
        database_url=PG_URL,
        database_schema=schema,
        llm_backend="scripted",
        embed_backend="hashing",
    )
    asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_settings(request: pytest.FixtureRequest) -> Settings:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_settings" if request.param == "sqlite" else "pg_settings"
    settings: Settings = request.getfixturevalue(name)
    return settings


@pytest.fixture
def settings(sqlite_settings: Settings) -> Settings:
    return sqlite_settings


@pytest.fixture
async def store(db_settings: Settings) -> AsyncIterator[Store]:
    s = await Store.open(db_settings)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=120):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anima.test") as c:
        yield c


async def make_key(app: FastAPI, workspace: str, scope: Scope = Scope.ALL) -> str:
    """Create a workspace key through the real store; returns the Authorization header value."""
    store: Store = app.state.anima.store
    await store.keys.ensure_workspace(workspace)
    pair = new_key_pair()
    await store.keys.add(workspace, scope, pair)
    return f"Basic {pair.basic}"


@pytest.fixture
async def auth(app: FastAPI) -> dict[str, str]:
    """Headers with a key of scope `all` on workspace `ws1`."""
    return {"Authorization": await make_key(app, "ws1")}
