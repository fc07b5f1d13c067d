"""Server-wide values that survive restarts (signing keys)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from anima.store.tables import ServerValueRow

if TYPE_CHECKING:
    from anima.store.db import Store


class ServerValueRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get_or_create(self, name: str, make: bytes) -> bytes:
        """Return the stored value, storing ``make`` first if there is none (race-free)."""
        insert = pg_insert if self._store.dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(ServerValueRow)
            .values(name=name, value=make, created_at=time.time())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        async with self._store.session() as s:
            await s.execute(stmt)
            row = await s.get(ServerValueRow, name)
            assert row is not None
            return row.value
