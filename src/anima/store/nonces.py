"""Nonces of signed requests already accepted: a replayed IW1-HMAC-SHA256 request is refused."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from anima.store.tables import UsedNonceRow

if TYPE_CHECKING:
    from anima.store.db import Store

_PURGE_EVERY_SECONDS = 60.0


class NonceRepo:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._last_purge = 0.0

    async def use(
        self, api_key: str, nonce: str, *, keep_until: float, now: float | None = None
    ) -> bool:
        """Record ``nonce`` for ``api_key``. False when it is already recorded and still live.

        One atomic statement: an expired record of the same nonce is taken over, a live one
        is left alone (and the call answers False), so concurrent replays let one through.
        """
        now = time.time() if now is None else now
        insert = pg_insert if self._store.dialect == "postgresql" else sqlite_insert
        stmt = insert(UsedNonceRow).values(api_key=api_key, nonce=nonce, expires_at=keep_until)
        stmt = stmt.on_conflict_do_update(
            index_elements=["api_key", "nonce"],
            set_={"expires_at": stmt.excluded.expires_at},
            where=UsedNonceRow.expires_at <= now,
        )
        async with self._store.session() as s:
            result = await s.execute(stmt)
            fresh = bool(getattr(result, "rowcount", 0))
        if now - self._last_purge >= _PURGE_EVERY_SECONDS:
            self._last_purge = now
            await self.purge(now)
        return fresh

    async def purge(self, now: float | None = None) -> int:
        """Delete records whose window has closed; returns how many."""
        now = time.time() if now is None else now
        async with self._store.session() as s:
            result = await s.execute(delete(UsedNonceRow).where(UsedNonceRow.expires_at <= now))
            return int(getattr(result, "rowcount", 0) or 0)
