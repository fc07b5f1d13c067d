"""Migrations from empty, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_workers_starting_at_once_on_a_new_sqlite_file_all_migrate(tmp_path: Path) -> None:
    # `anima serve --workers N` on a new data dir: N processes migrate the same file at once.
    script = (
        "import asyncio, sys\n"
        "from anima.settings import Settings\n"
        "from anima.store import Store\n"
        "async def main():\n"
        "    store = await Store.open(Settings(data_dir=sys.argv[1]))\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIMA_")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [w.communicate(timeout=120)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], "\n".join(errors)
