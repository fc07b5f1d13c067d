"""Readiness is a real write: a store that cannot write is not ready (and says so quickly)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from anima.store import Store


@asynccontextmanager
async def write_lock_held(store: Store) -> AsyncIterator[None]:
    """Another connection (not the store's pool) holds what a write needs."""
    if store.dialect == "sqlite":
        path = store.engine.url.database
        assert path is not None
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import asyncpg

    url = store.settings.db_url.replace("+asyncpg", "")
    conn = await asyncpg.connect(url)
    try:
        if store.settings.database_schema:
            await conn.execute(f'SET search_path TO "{store.settings.database_schema}"')
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE server_values IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            await tx.rollback()
    finally:
        await conn.close()


async def test_ready_when_writable(store: Store) -> None:
    assert await store.ready() == (True, "ok")


async def test_not_ready_while_writes_are_blocked(store: Store) -> None:
    async with write_lock_held(store), asyncio.timeout(10):
        ok, reason = await store.ready(within=0.5)
    assert not ok
    assert "cannot write" in reason
    assert await store.ready() == (True, "ok"), "ready again once the lock is gone"


async def test_readyz_answers_503_while_the_database_cannot_write(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    store: Store = app.state.anima.store
    async with write_lock_held(store):
        r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["status"] == "UNAVAILABLE"
    assert "cannot write" in r.json()["error"]["message"]
    assert (await client.get("/readyz")).status_code == 200
