"""Studio resources in the store: editable drafts and their immutable deployed versions.

Each collection has two tables: the draft (one row per resource, edited in place with an
optimistic ``revision`` check) and its versions (one row per successful deploy, never
changed). A deploy reserves the next version number and copies the draft into its operation
in one transaction, so the version it produces is exactly the draft of that moment.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    and_,
    delete,
    false,
    func,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from anima.domain.aip160 import And, Expr, Not, Restriction
from anima.domain.limits import STORED
from anima.domain.operation import Operation, OperationState
from anima.domain.paging import Cursor
from anima.domain.resource import ResourceKind, resource_name, with_suffix
from anima.errors import Aborted
from anima.store.operations import OperationRow, operation_from_row
from anima.store.tables import Base

if TYPE_CHECKING:
    from anima.store.db import Store

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D")

_UPDATE_ATTEMPTS = 20
_CREATE_ATTEMPTS = 20


class _Draft(Base):
    """A resource as edited in the Studio."""

    __abstract__ = True

    workspace: Mapped[str] = mapped_column(
        String(128), ForeignKey("workspaces.name", ondelete="CASCADE"), primary_key=True
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    uid: Mapped[str] = mapped_column(String(32))  # tells a re-created resource from the old one
    data: Mapped[dict[str, Any]]
    revision: Mapped[int] = mapped_column(Integer)
    deploy_seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class _Version(Base):
    """One deployed version: written once, never changed."""

    __abstract__ = True

    workspace: Mapped[str] = mapped_column(String(128), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[float] = mapped_column(Float)


def _versions_fk(parent: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["workspace", "id"], [f"{parent}.workspace", f"{parent}.id"], ondelete="CASCADE"
    )


def _listing_index(table: str) -> Index:
    return Index(f"ix_{table}_listing", "workspace", "created_at", "id")


class CharacterRow(_Draft):
    __tablename__ = "characters"
    __table_args__ = (_listing_index("characters"),)


class CharacterVersionRow(_Version):
    __tablename__ = "character_versions"
    __table_args__ = (_versions_fk("characters"),)


class SceneRow(_Draft):
    __tablename__ = "scenes"
    __table_args__ = (_listing_index("scenes"),)


class SceneVersionRow(_Version):
    __tablename__ = "scene_versions"
    __table_args__ = (_versions_fk("scenes"),)


class KnowledgeRow(_Draft):
    __tablename__ = "common_knowledge"
    __table_args__ = (_listing_index("common_knowledge"),)


class KnowledgeVersionRow(_Version):
    __tablename__ = "common_knowledge_versions"
    __table_args__ = (_versions_fk("common_knowledge"),)


def _where(expr: Expr, column: Any) -> ColumnElement[bool]:
    """SQL for a filter that ``name_filter`` rewrote to ``id`` comparisons."""
    if isinstance(expr, Restriction):
        if not expr.value:
            return false() if expr.op == "=" else true()
        return column == expr.value if expr.op == "=" else column != expr.value  # type: ignore[no-any-return]
    if isinstance(expr, Not):
        return not_(_where(expr.operand, column))
    parts = [_where(e, column) for e in expr.operands]
    return and_(*parts) if isinstance(expr, And) else or_(*parts)


class ResourceRepo(Generic[M, D]):
    """Drafts and versions of one Studio collection. ``D`` is its deployed-version type."""

    def __init__(
        self,
        store: Store,
        kind: ResourceKind,
        model: type[M],
        draft: type[_Draft],
        version: type[_Version],
        deployed: Callable[[int, M, float], D],
    ) -> None:
        self._store = store
        self.kind = kind
        self._model = model
        self._draft = draft
        self._version = version
        self._deployed = deployed

    def _load(self, workspace: str, resource_id: str, data: dict[str, Any]) -> M:
        return self._model.model_validate(
            {**data, "name": resource_name(workspace, self.kind, resource_id)}, context=STORED
        )

    @staticmethod
    def _dump(resource: BaseModel) -> dict[str, Any]:
        data = resource.model_dump(mode="json", by_alias=True)
        data.pop("name", None)
        return data

    # -- drafts -------------------------------------------------------------

    async def create(self, workspace: str, resource: M, base_id: str) -> M:
        """Store a new draft under ``base_id``, or ``base_id`` plus a short suffix if taken."""
        row_type = self._draft
        for attempt in range(_CREATE_ATTEMPTS):
            resource_id = base_id if attempt == 0 else with_suffix(base_id)
            now = time.time()
            try:
                async with self._store.session() as s:
                    if await s.get(row_type, (workspace, resource_id)) is not None:
                        continue
                    s.add(
                        row_type(
                            workspace=workspace,
                            id=resource_id,
                            uid=uuid.uuid4().hex,
                            data=self._dump(resource),
                            revision=1,
                            deploy_seq=0,
                            created_at=now,
                            updated_at=now,
                        )
                    )
            except IntegrityError:
                continue  # lost a race for this id: try a suffixed one
            return self._load(workspace, resource_id, self._dump(resource))
        raise Aborted(f"could not allocate an id for '{base_id}'; try again")

    async def get(self, workspace: str, resource_id: str) -> M | None:
        async with self._store.session() as s:
            row = await s.get(self._draft, (workspace, resource_id))
            return None if row is None else self._load(workspace, row.id, row.data)

    async def page(
        self,
        workspace: str,
        *,
        limit: int,
        after: Cursor | None = None,
        where: Expr | None = None,
    ) -> tuple[list[M], Cursor | None]:
        """One page in creation order, and the cursor of its last item if more follow."""
        t = self._draft
        stmt = select(t).where(t.workspace == workspace)
        if where is not None:
            stmt = stmt.where(_where(where, t.id))
        if after is not None:
            stmt = stmt.where(
                or_(
                    t.created_at > after.created_at,
                    and_(t.created_at == after.created_at, t.id > after.id),
                )
            )
        stmt = stmt.order_by(t.created_at, t.id).limit(limit + 1)
        async with self._store.session() as s:
            rows = list((await s.scalars(stmt)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        items = [self._load(workspace, r.id, r.data) for r in rows]
        cursor = Cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return items, cursor

    async def all(self, workspace: str) -> list[M]:
        t = self._draft
        stmt = select(t).where(t.workspace == workspace).order_by(t.created_at, t.id)
        async with self._store.session() as s:
            return [self._load(workspace, r.id, r.data) for r in (await s.scalars(stmt)).all()]

    async def exists(self, workspace: str, resource_id: str) -> bool:
        """Does the resource exist (deployed or not)?"""
        return bool(await self.existing(workspace, [resource_id]))

    async def existing(self, workspace: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` name a resource of this collection in ``workspace``."""
        if not ids:
            return set()
        t = self._draft
        stmt = select(t.id).where(t.workspace == workspace, t.id.in_(set(ids)))
        async with self._store.session() as s:
            return set((await s.scalars(stmt)).all())

    async def update(self, workspace: str, resource_id: str, change: Callable[[M], M]) -> M | None:
        """Apply ``change`` to the draft; retried on a concurrent edit, never half-applied."""
        t = self._draft
        for _ in range(_UPDATE_ATTEMPTS):
            async with self._store.session() as s:
                row = await s.get(t, (workspace, resource_id))
                if row is None:
                    return None
                seen, current = row.revision, self._load(workspace, row.id, row.data)
            changed = change(current)
            async with self._store.session() as s:
                result = await s.execute(
                    update(t)
                    .where(t.workspace == workspace, t.id == resource_id, t.revision == seen)
                    .values(data=self._dump(changed), revision=seen + 1, updated_at=time.time())
                )
                if getattr(result, "rowcount", 0) == 1:
                    return self._load(workspace, resource_id, self._dump(changed))
        raise Aborted(
            f"too many concurrent edits of {resource_name(workspace, self.kind, resource_id)}; try again"
        )

    async def delete(self, workspace: str, resource_id: str) -> bool:
        """Delete the draft and every deployed version of it."""
        t, v = self._draft, self._version
        async with self._store.session() as s:
            await s.execute(delete(v).where(v.workspace == workspace, v.id == resource_id))
            result = await s.execute(delete(t).where(t.workspace == workspace, t.id == resource_id))
            return bool(getattr(result, "rowcount", 0))

    # -- deploys ------------------------------------------------------------

    async def start_deploy(self, workspace: str, resource_id: str) -> Operation | None:
        """A pending deploy operation holding the draft as it is now and the next version
        number; None when there is no such resource."""
        t = self._draft
        now = time.time()
        async with self._store.session() as s:
            found = (
                await s.execute(
                    update(t)
                    .where(t.workspace == workspace, t.id == resource_id)
                    .values(deploy_seq=t.deploy_seq + 1)
                    .returning(t.deploy_seq, t.data, t.uid)
                )
            ).first()
            if found is None:
                return None
            version, data, uid = found
            row = OperationRow(
                id=uuid.uuid4().hex,
                workspace=workspace,
                kind=self.kind.value,
                resource_id=resource_id,
                resource_uid=uid,
                version=version,
                state=OperationState.PENDING.value,
                snapshot={**data, "name": resource_name(workspace, self.kind, resource_id)},
                attempts=0,
                lease_until=None,
                error=None,
                response=None,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
        return operation_from_row(row)

    async def finish_deploy(self, operation: Operation, resource: M) -> D | None:
        """Store the version ``operation`` built and mark it succeeded, in one transaction.
        None (and nothing stored) when the resource was deleted meanwhile."""
        t, v = self._draft, self._version
        now = time.time()
        data = self._dump(resource)
        async with self._store.session() as s:
            draft = (
                await s.execute(
                    select(t.uid)
                    .where(t.workspace == operation.workspace, t.id == operation.resource_id)
                    .with_for_update()
                )
            ).first()
            if draft is None or draft[0] != operation.resource_uid:
                return None
            existing = await s.get(
                v, (operation.workspace, operation.resource_id, operation.version)
            )
            if existing is None:
                s.add(
                    v(
                        workspace=operation.workspace,
                        id=operation.resource_id,
                        version=operation.version,
                        operation_id=operation.id,
                        data=data,
                        created_at=now,
                    )
                )
            else:
                now = existing.created_at
            await s.execute(
                update(OperationRow)
                .where(OperationRow.id == operation.id)
                .values(
                    state=OperationState.SUCCEEDED.value,
                    response={**data, "name": operation.resource},
                    lease_until=None,
                    updated_at=time.time(),
                )
            )
        return self._deployed(
            operation.version, self._load(operation.workspace, operation.resource_id, data), now
        )

    async def get_deployed(self, workspace: str, resource_id: str) -> D | None:
        """The latest deployed version (highest number), or None if never deployed."""
        v = self._version
        stmt = (
            select(v)
            .where(v.workspace == workspace, v.id == resource_id)
            .order_by(v.version.desc())
            .limit(1)
        )
        async with self._store.session() as s:
            row = (await s.scalars(stmt)).first()
        return None if row is None else self._wrap(row)

    async def get_deployed_version(
        self, workspace: str, resource_id: str, version: int
    ) -> D | None:
        async with self._store.session() as s:
            row = await s.get(self._version, (workspace, resource_id, version))
        return None if row is None else self._wrap(row)

    async def deployed_version_exists(self, workspace: str, resource_id: str, version: int) -> bool:
        """Is this version still there (deleting a resource deletes its versions)? Cheaper than
        reading it, for callers that keep immutable versions they already read."""
        v = self._version
        stmt = select(v.version).where(
            v.workspace == workspace, v.id == resource_id, v.version == version
        )
        async with self._store.session() as s:
            return (await s.execute(stmt)).first() is not None

    async def deployed_count(self, workspace: str, resource_id: str) -> int:
        v = self._version
        stmt = (
            select(func.count()).select_from(v).where(v.workspace == workspace, v.id == resource_id)
        )
        async with self._store.session() as s:
            return int((await s.execute(stmt)).scalar_one())

    def _wrap(self, row: _Version) -> D:
        return self._deployed(
            row.version, self._load(row.workspace, row.id, row.data), row.created_at
        )
