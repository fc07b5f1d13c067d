"""Long-running operations (deploys) in the store, claimed with leases.

A worker runs an operation only after claiming it with a conditional UPDATE (pending, or
running with an expired lease), and renews the lease while it works; an operation whose
worker died is claimed again by the next sweep, up to ``MAX_ATTEMPTS`` times, then failed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Index, Integer, String, and_, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from anima.domain.operation import (
    MAX_ATTEMPTS,
    Operation,
    OperationError,
    OperationState,
)
from anima.domain.resource import ResourceKind
from anima.store.tables import Base

if TYPE_CHECKING:
    from anima.store.db import Store


class OperationRow(Base):
    __tablename__ = "operations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    resource_uid: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    snapshot: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[dict[str, Any] | None]
    response: Mapped[dict[str, Any] | None]
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


Index("ix_operations_resource", OperationRow.workspace, OperationRow.kind, OperationRow.resource_id)
Index("ix_operations_state", OperationRow.state)


def operation_from_row(row: OperationRow) -> Operation:
    error = None
    if row.error is not None:
        error = OperationError(
            int(row.error["code"]),
            str(row.error["status"]),
            str(row.error["message"]),
            list(row.error.get("details", [])),
        )
    return Operation(
        id=row.id,
        workspace=row.workspace,
        kind=ResourceKind(row.kind),
        resource_id=row.resource_id,
        resource_uid=row.resource_uid,
        version=row.version,
        state=OperationState(row.state),
        snapshot=row.snapshot,
        created_at=row.created_at,
        updated_at=row.updated_at,
        attempts=row.attempts,
        error=error,
        response=row.response,
    )


class OperationRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, operation_id: str) -> Operation | None:
        async with self._store.session() as s:
            row = await s.get(OperationRow, operation_id)
            return None if row is None else operation_from_row(row)

    async def claim(self, operation_id: str, lease_seconds: float) -> Operation | None:
        """Take the operation to run it: None if it is done or another worker holds it."""
        now = time.time()
        t = OperationRow
        claimable = or_(
            t.state == OperationState.PENDING.value,
            and_(t.state == OperationState.RUNNING.value, t.lease_until < now),
        )
        async with self._store.session() as s:
            result = await s.execute(
                update(t)
                .where(t.id == operation_id, claimable)
                .values(
                    state=OperationState.RUNNING.value,
                    lease_until=now + lease_seconds,
                    attempts=t.attempts + 1,
                    updated_at=now,
                )
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
            row = await s.get(t, operation_id, populate_existing=True)
            assert row is not None
            return operation_from_row(row)

    async def renew(self, operation_id: str, lease_seconds: float) -> bool:
        t = OperationRow
        now = time.time()
        async with self._store.session() as s:
            result = await s.execute(
                update(t)
                .where(t.id == operation_id, t.state == OperationState.RUNNING.value)
                .values(lease_until=now + lease_seconds, updated_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

    async def release(self, operation_id: str) -> None:
        """Give a running operation back (this process is stopping): pending again."""
        t = OperationRow
        async with self._store.session() as s:
            await s.execute(
                update(t)
                .where(t.id == operation_id, t.state == OperationState.RUNNING.value)
                .values(
                    state=OperationState.PENDING.value,
                    lease_until=None,
                    attempts=t.attempts - 1,
                    updated_at=time.time(),
                )
            )

    async def fail(self, operation_id: str, error: OperationError) -> None:
        t = OperationRow
        async with self._store.session() as s:
            await s.execute(
                update(t)
                .where(
                    t.id == operation_id,
                    t.state.in_([OperationState.PENDING.value, OperationState.RUNNING.value]),
                )
                .values(
                    state=OperationState.FAILED.value,
                    error={
                        "code": error.code,
                        "status": error.status,
                        "message": error.message,
                        "details": error.details,
                    },
                    lease_until=None,
                    updated_at=time.time(),
                )
            )

    async def unfinished(self) -> list[Operation]:
        """Operations nobody is running now: pending, or running with an expired lease."""
        now = time.time()
        t = OperationRow
        stmt = (
            select(t)
            .where(
                or_(
                    t.state == OperationState.PENDING.value,
                    and_(t.state == OperationState.RUNNING.value, t.lease_until < now),
                )
            )
            .order_by(t.created_at)
        )
        async with self._store.session() as s:
            return [operation_from_row(r) for r in (await s.scalars(stmt)).all()]

    async def exhausted(self) -> list[Operation]:
        """Unfinished operations already tried ``MAX_ATTEMPTS`` times."""
        return [op for op in await self.unfinished() if op.attempts >= MAX_ATTEMPTS]
