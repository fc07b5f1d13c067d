"""The store: one async engine, migrations on open, repositories on top.

Every database round trip runs to completion once it has started, even when the task that
asked for it is cancelled meanwhile (a client that went away cancels its turn): the
cancellation is delivered right after the round trip, and the unit of work then rolls back.
Cancelling the driver mid-statement instead makes SQLAlchemy invalidate the connection; on
SQLite that closed a connection whose ``UPDATE ... RETURNING`` cursor was still referenced
from the cancellation's traceback, and SQLite kept that zombie connection's write transaction
(and the database's write lock) open until the cursor was garbage-collected.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from anima.errors import Unavailable
from anima.settings import Settings
from anima.store.characters import CharacterRepo, KnowledgeRepo, SceneRepo
from anima.store.feedback import FeedbackRepo
from anima.store.keys import KeyRepo
from anima.store.leases import LeaseRepo
from anima.store.memory import MemoryRepo, VectorRepo
from anima.store.nonces import NonceRepo
from anima.store.operations import OperationRepo
from anima.store.proxy import ProxyRepo
from anima.store.safety import SafetyEventRepo
from anima.store.sealing import SecretSealer
from anima.store.sessions import RelationshipRepo, SessionRepo
from anima.store.tables import ServerValueRow
from anima.store.values import ServerValueRepo

log = logging.getLogger("anima.store")
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x616E696D61  # "anima": one migrator at a time across workers


# Alembic keeps global state while it runs: one migration at a time in a process.
_migration_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _migration_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _migration_locks.get(loop)
    if lock is None:
        lock = _migration_locks[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def _sqlite_file_lock(database: str | None) -> AsyncIterator[None]:
    """Hold an exclusive lock on a file beside a SQLite database: the workers of one host
    starting at once on a new database would otherwise all create its tables, and all but
    one fail. The others wait, then find it migrated. (PostgreSQL uses an advisory lock.)"""
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    import fcntl

    path = Path(database).with_name(Path(database).name + ".migrate-lock")
    handle = await asyncio.to_thread(open, path, "a+b")
    try:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock
    finally:
        handle.close()


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _upgrade(connection: Connection) -> None:
    from alembic import command

    cfg = _alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


READY_SECONDS = 2.0  # /readyz: how long the write probe may wait for the database
SQLITE_BUSY_MS = 30_000


async def to_completion(work: Awaitable[T]) -> T:
    """Await ``work`` in a task of its own. If the caller is cancelled meanwhile, the work
    still runs to its end and the cancellation is re-raised after it (its result or error is
    then dropped: the caller asked to stop)."""
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved: the caller's cancellation wins
        raise cancelled
    return task.result()


class UnitOfWork(AsyncSession):
    """An ``AsyncSession`` whose round trips always complete once started (``to_completion``).

    ``scalar`` and ``scalars`` go through ``execute``."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await to_completion(super().execute(*args, **kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await to_completion(super().get(*args, **kwargs))

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        await to_completion(super().flush(*args, **kwargs))

    async def delete(self, instance: object) -> None:
        await to_completion(super().delete(instance))

    async def commit(self) -> None:
        await to_completion(super().commit())

    async def rollback(self) -> None:
        await to_completion(super().rollback())

    async def close(self) -> None:
        await to_completion(super().close())


class Store:
    """Owns the database engine. Build with ``await Store.open(settings)``."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.dialect = engine.dialect.name
        self.sessionmaker = async_sessionmaker(engine, class_=UnitOfWork, expire_on_commit=False)
        self.keys = KeyRepo(self)
        self.sealer = SecretSealer(self)
        self.nonces = NonceRepo(self)
        self.values = ServerValueRepo(self)
        self.sessions = SessionRepo(self)
        self.leases = LeaseRepo(self)
        self.feedback = FeedbackRepo(self)
        self.relationships = RelationshipRepo(self)
        self.characters = CharacterRepo(self)
        self.scenes = SceneRepo(self)
        self.knowledge = KnowledgeRepo(self)
        self.operations = OperationRepo(self)
        self.vectors = VectorRepo(self)
        self.memories = MemoryRepo(self)
        self.proxy = ProxyRepo(self)
        self.safety_events = SafetyEventRepo(self)

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = True) -> Store:
        engine = create_engine(settings)
        store = cls(engine, settings)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await engine.dispose()
                raise
        return store

    @classmethod
    @asynccontextmanager
    async def opened(cls, settings: Settings) -> AsyncIterator[Store]:
        """``async with Store.opened(settings) as store:``, closed afterwards (CLI commands)."""
        store = await cls.open(settings)
        try:
            yield store
        finally:
            await store.close()

    async def close(self) -> None:
        await self.engine.dispose()

    async def migrate(self) -> None:
        """Apply every pending migration; safe when several workers start at once."""
        try:
            async with (
                _migration_lock(),
                _sqlite_file_lock(self.engine.url.database if self.dialect == "sqlite" else None),
                self.engine.connect() as conn,
            ):
                if self.dialect == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
                    )
                    await conn.commit()
                try:
                    await conn.run_sync(_upgrade)
                    await conn.commit()
                finally:
                    if self.dialect == "postgresql":
                        await conn.execute(
                            text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK}
                        )
                        await conn.commit()
        except (SQLAlchemyError, OSError) as exc:
            raise Unavailable(
                f"cannot reach or migrate the database ({type(exc).__name__}: {exc}); "
                "check ANIMA_DATABASE_URL"
            ) from exc

    async def revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current_revision)

    async def ready(self, within: float = READY_SECONDS) -> tuple[bool, str]:
        """Can the store be used right now: reachable, fully migrated, and writable (a real
        write, rolled back, that must get a connection and the write lock within ``within``
        seconds)? Returns (ok, reason)."""
        try:
            async with asyncio.timeout(within):
                current = await self.revision()
                await self._write_probe(lock_ms=max(1, int(within * 500)))
        except TimeoutError:
            return False, f"database cannot write: no connection or lock within {within:g} s"
        except (SQLAlchemyError, OSError) as exc:
            return False, f"database cannot write: {type(exc).__name__}: {exc}".split("\n")[0]
        head = head_revision()
        if current != head:
            return False, f"database at revision {current}, code expects {head}"
        return True, "ok"

    async def _write_probe(self, lock_ms: int) -> None:
        """An UPDATE that matches nothing still takes the write lock; then roll back. The
        database gives up waiting for the lock after ``lock_ms`` (before the caller does)."""
        probe = update(ServerValueRow).where(ServerValueRow.name == "").values(created_at=0.0)
        wait_ms = lock_ms
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
            try:
                if self.dialect == "postgresql":
                    await conn.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
                await conn.execute(probe)
            finally:
                await conn.rollback()
                if self.dialect == "sqlite":
                    await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on error or cancellation. Its round
        trips, the commit, the rollback and the return of the connection to the pool all run
        to completion even when the caller is cancelled (see the module docstring)."""
        session = self.sessionmaker()
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.db_url)
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
        # SQLite has one writer at a time; with several connections, writers wait in
        # SQLite's busy handler (sleeps of up to 100 ms), which made the latency tail ten
        # times the median. One connection per process queues them fairly instead.
        kwargs["pool_size"] = 1
        kwargs["max_overflow"] = 0
        kwargs["pool_timeout"] = 60
    elif url.get_backend_name() == "postgresql":
        kwargs["pool_size"] = settings.database_pool_size
        kwargs["max_overflow"] = settings.database_pool_size
        kwargs["pool_pre_ping"] = True
        if settings.database_schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": settings.database_schema}}
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()
