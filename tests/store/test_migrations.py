"""Migrations from empty, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from anima.domain.credentials import Scope, new_key_pair
from anima.settings import Settings
from anima.store import Store
from anima.store.db import head_revision


async def test_migrates_from_empty_to_head(db_settings: Settings) -> None:
    store = await Store.open(db_settings)
    try:
        assert await store.revision() == head_revision()
        assert await store.ready() == (True, "ok")
        async with store.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"workspaces", "api_keys", "server_values", "alembic_version"} <= tables
    finally:
        await store.close()


async def test_reopen_is_idempotent_and_keeps_data(db_settings: Settings) -> None:
    store = await Store.open(db_settings)
    await store.keys.ensure_workspace("w")
    await store.close()
    store = await Store.open(db_settings)
    try:
        assert await store.keys.workspace_exists("w")
    finally:
        await store.close()


async def test_not_ready_when_behind(db_settings: Settings) -> None:
    store = await Store.open(db_settings)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
        ok, reason = await store.ready()
        assert not ok
        assert "old" in reason
    finally:
        await store.close()


async def test_unreachable_database_is_a_clear_error(tmp_path: object) -> None:
    import pytest

    from anima.errors import Unavailable

    settings = Settings(database_url="postgresql+asyncpg://nobody:x@127.0.0.1:1/none")
    with pytest.raises(Unavailable, match="ANIMA_DATABASE_URL"):
        await Store.open(settings)


async def test_secret_cannot_be_read_back(store: Store) -> None:
    """No column of any table holds the secret (or its base64 header) in any form we can see."""
    await store.keys.ensure_workspace("w")
    pair = new_key_pair()
    await store.keys.add("w", Scope.ALL, pair)
    dump: list[str] = []
    async with store.engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        for name in names:
            for row in (await conn.execute(text(f'SELECT * FROM "{name}"'))).all():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value)
                        dump.append(value.hex())
                        dump.append(value.decode("latin-1"))
                    else:
                        dump.append(str(value))
    blob = "\n".join(dump)
    assert pair.key in blob  # the public key is stored
    assert pair.secret not in blob
    assert pair.secret.encode().hex() not in blob
    assert pair.basic not in blob


async def test_concurrent_opens_migrate_once(db_settings: Settings) -> None:
    import asyncio

    stores = await asyncio.gather(*(Store.open(db_settings) for _ in range(3)))
    try:
        for s in stores:
            assert await s.revision() == head_revision()
    finally:
        for s in stores:
            await s.close()
