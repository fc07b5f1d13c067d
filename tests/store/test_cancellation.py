"""A task cancelled in the middle of a database round trip leaves the store usable.

A client that goes away cancels its turn wherever it is, also inside a statement. Before the
fix, a cancellation landing in the turn lease's ``UPDATE ... RETURNING`` on SQLite left a
zombie connection holding the write lock: the turn's own cleanup (still handling the
cancellation) then waited 30 s for it and failed "database is locked", and so did every
other write. Here the cancellation lands after every number of event-loop steps into the
statement, and the cleanup write and an unrelated write must get through at once.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from sqlalchemy import update

from anima.domain.session import Player, Session, SessionCharacter, SessionKind
from anima.store import Store
from anima.store.sessions import SessionRow

HANG = 5.0  # the failure waits SQLite's 30 s busy timeout; a healthy write takes milliseconds


def _session() -> Session:
    return Session(
        id=f"w:{uuid.uuid4()}",
        workspace="w",
        kind=SessionKind.CHARACTER,
        loaded_scene="workspaces/w/characters/tony",
        characters=[SessionCharacter(str(uuid.uuid4()), "tony", 1, "Tony")],
        player=Player(),
        created_at=time.time(),
        last_active_at=time.time(),
    )


async def _cancelled_turn(store: Store, session: Session, steps: int) -> str:
    """Take the lease (UPDATE ... RETURNING), cancelled after ``steps`` loop steps; clean up
    while the cancellation is being handled, as the engine does. What happened, for the test."""

    async def turn() -> None:
        owner = uuid.uuid4().hex
        try:
            await store.sessions.acquire(session.id, owner, now=time.time(), until=time.time() + 60)
            await store.sessions.release(session.id, owner)
        except asyncio.CancelledError:
            async with asyncio.timeout(HANG):
                await store.sessions.release(session.id, owner)
            raise

    task = asyncio.create_task(turn())
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return "cancelled"
    return "finished"


async def test_cancelling_at_any_point_of_a_statement_leaves_the_store_writable(
    store: Store,
) -> None:
    session = _session()
    await store.sessions.create(session)
    outcomes = set()
    for steps in range(40):
        outcomes.add(await _cancelled_turn(store, session, steps))
        async with asyncio.timeout(HANG):
            await store.sessions.save_stream_state(session.id, {"n": steps}, touch=time.time())
    assert "cancelled" in outcomes
    got = await store.sessions.get(session.id)
    assert got is not None
    assert got.stream_state == {"n": 39}
    assert await store.sessions.acquire(session.id, "next", now=time.time(), until=time.time() + 9)


async def test_a_cancelled_unit_of_work_is_rolled_back_and_its_connection_returned(
    store: Store,
) -> None:
    session = _session()
    await store.sessions.create(session)
    started = asyncio.Event()

    async def write_then_wait() -> None:
        async with store.session() as s:
            stmt = update(SessionRow).where(SessionRow.id == session.id)
            await s.execute(stmt.values(stream_state={"cancelled": True}))
            started.set()
            await asyncio.sleep(60)  # cancelled here, inside the transaction

    task = asyncio.create_task(write_then_wait())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(HANG):
        await store.sessions.save_stream_state(session.id, {"after": 1})
    got = await store.sessions.get(session.id)
    assert got is not None
    assert got.stream_state == {"after": 1}, "rolled back, then written"
    ok, reason = await store.ready()
    assert ok, reason
