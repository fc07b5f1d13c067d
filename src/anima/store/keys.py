"""Workspaces and API keys."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from anima.domain.credentials import ApiKey, NewKeyPair, Scope
from anima.store.tables import ApiKeyRow, WorkspaceRow

if TYPE_CHECKING:
    from anima.store.db import Store


def _to_domain(row: ApiKeyRow | Row[Any]) -> ApiKey:
    return ApiKey(row.key, row.workspace, Scope(row.scope), row.created_at, row.revoked_at)


class KeyRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def ensure_workspace(self, name: str) -> bool:
        """Create the workspace if missing. Returns True when this call created it."""
        insert = pg_insert if self._store.dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(WorkspaceRow)
            .values(name=name, created_at=time.time())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        async with self._store.session() as s:
            result = await s.execute(stmt)
            return bool(getattr(result, "rowcount", 0))

    async def workspace_exists(self, name: str) -> bool:
        async with self._store.session() as s:
            return await s.get(WorkspaceRow, name) is not None

    async def count_workspaces(self) -> int:
        async with self._store.session() as s:
            return len((await s.execute(select(WorkspaceRow.name))).all())

    async def add(self, workspace: str, scope: Scope, pair: NewKeyPair) -> ApiKey:
        sealed = await self._store.sealer.seal(pair.key, pair.secret)
        row = ApiKeyRow(
            key=pair.key,
            workspace=workspace,
            scope=scope.value,
            salt=pair.salt,
            secret_hash=pair.secret_hash,
            created_at=time.time(),
            sealed_secret=sealed,
        )
        async with self._store.session() as s:
            s.add(row)
        return _to_domain(row)

    async def get_with_hash(self, key: str) -> tuple[ApiKey, bytes, bytes] | None:
        t = ApiKeyRow.__table__
        async with self._store.session() as s:
            row = (await s.execute(select(t).where(t.c.key == key))).first()
        if row is None:
            return None
        return _to_domain(row), row.salt, row.secret_hash

    async def get_signing_secret(self, key: str) -> tuple[ApiKey, str | None] | None:
        """The key and its secret, unsealed, for HMAC signature checks only (store/sealing.py).

        The secret is None for keys created before signatures were supported.
        """
        async with self._store.session() as s:
            row = await s.get(ApiKeyRow, key)
            if row is None:
                return None
            api_key, sealed = _to_domain(row), row.sealed_secret
        if sealed is None:
            return api_key, None
        return api_key, await self._store.sealer.open(key, sealed)

    async def list(self, workspace: str | None = None) -> list[ApiKey]:
        stmt = select(ApiKeyRow).order_by(ApiKeyRow.workspace, ApiKeyRow.created_at)
        if workspace is not None:
            stmt = stmt.where(ApiKeyRow.workspace == workspace)
        async with self._store.session() as s:
            return [_to_domain(r) for r in (await s.scalars(stmt)).all()]

    async def revoke(self, key: str) -> bool:
        stmt = (
            update(ApiKeyRow)
            .where(ApiKeyRow.key == key, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
        async with self._store.session() as s:
            result = await s.execute(stmt)
            return bool(getattr(result, "rowcount", 0))

    async def revocations(self) -> tuple[int, int, float]:
        """A cheap fingerprint of revocations: (keys, revoked keys, last revocation time). It
        changes whenever a key is revoked or deleted, so a process that caches keys polls it."""
        t = ApiKeyRow.__table__
        stmt = select(func.count(), func.count(t.c.revoked_at), func.max(t.c.revoked_at))
        async with self._store.session() as s:
            keys, revoked, last = (await s.execute(stmt)).one()
        return int(keys), int(revoked), float(last or 0.0)
