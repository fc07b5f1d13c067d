"""Session persistence on SQLite and PostgreSQL: leases, turns, history, relationships."""

from __future__ import annotations

import asyncio
import uuid

from anima.domain.session import Interaction, Player, Session, SessionCharacter, SessionKind
from anima.store import Store


def _session(ws: str = "w") -> Session:
    return Session(
        id=f"{ws}:{uuid.uuid4()}",
        workspace=ws,
        kind=SessionKind.CHARACTER,
        loaded_scene=f"workspaces/{ws}/characters/tony",
        characters=[SessionCharacter(str(uuid.uuid4()), "tony", 1, "Tony")],
        player=Player(end_user_id="u1", given_name="Sherlock", age=27, role="detective"),
        created_at=100.0,
        last_active_at=100.0,
    )


def _interaction(session: Session, text: str) -> Interaction:
    return Interaction(
        id=uuid.uuid4().hex,
        session_id=session.id,
        agent_id=session.characters[0].agent_id,
        seq=-1,
        created_at=101.0,
        input_kind="text",
        input_text=text,
        texts=("Hello.", "*waves*"),
        narrated=(False, True),
        emotion=("JOY", "STRONG"),
        relationship={"trust": 1},
        triggers_out=(("ferry_offered", (("price", "3"),)),),
    )


async def test_session_round_trip(store: Store) -> None:
    s = _session()
    s.agent_state = {s.characters[0].agent_id: {"mood": {"joy": 10}}}
    await store.sessions.create(s)
    got = await store.sessions.get(s.id)
    assert got == s
    assert await store.sessions.get("w:nope") is None


async def test_lease_excludes_a_second_owner_until_released_or_expired(store: Store) -> None:
    s = _session()
    await store.sessions.create(s)
    assert await store.sessions.acquire(s.id, "a", now=10, until=20)
    assert not await store.sessions.acquire(s.id, "b", now=11, until=21)
    assert await store.sessions.acquire(s.id, "a", now=11, until=21), "re-entrant for its owner"
    await store.sessions.release(s.id, "b")  # not the owner: no effect
    assert not await store.sessions.acquire(s.id, "b", now=12, until=22)
    assert await store.sessions.acquire(s.id, "b", now=30, until=40), (
        "an expired lease is taken over"
    )
    await store.sessions.release(s.id, "b")
    assert await store.sessions.acquire(s.id, "c", now=31, until=41)


async def test_concurrent_acquire_has_one_winner(store: Store) -> None:
    s = _session()
    await store.sessions.create(s)
    results = await asyncio.gather(
        *(store.sessions.acquire(s.id, f"o{i}", now=1, until=100) for i in range(8))
    )
    assert sum(r is not None for r in results) == 1


async def test_commit_turn_numbers_stores_and_releases(store: Store) -> None:
    s = _session()
    await store.sessions.create(s)
    assert await store.sessions.acquire(s.id, "a", now=1, until=100)
    s.agent_state = {"x": {"goals": {"done": ["g"]}}}
    first = await store.sessions.commit_turn(s, _interaction(s, "one"), "a", now=200.0)
    assert first.seq == 0
    second = await store.sessions.commit_turn(s, _interaction(s, "two"), "a", now=201.0)
    assert second.seq == 1
    history = await store.sessions.history(s.id)
    assert [i.input_text for i in history] == ["one", "two"]
    assert history[0] == first
    assert history[0].reply == "Hello."
    reloaded = await store.sessions.get(s.id)
    assert reloaded is not None
    assert reloaded.last_active_at == 201.0
    assert reloaded.agent_state == {"x": {"goals": {"done": ["g"]}}}
    assert await store.sessions.acquire(s.id, "b", now=2, until=3), "lease released"
    assert await store.sessions.get_interaction(s.id, first.id) == first
    assert await store.sessions.get_interaction("w:other", first.id) is None


async def test_history_limit_keeps_the_latest(store: Store) -> None:
    s = _session()
    await store.sessions.create(s)
    for n in range(5):
        await store.sessions.commit_turn(s, _interaction(s, str(n)), "a", now=1.0)
    assert [i.input_text for i in await store.sessions.history(s.id, limit=2)] == ["3", "4"]


async def test_purge_expired(store: Store) -> None:
    old, new = _session(), _session()
    new.last_active_at = 5000.0
    await store.sessions.create(old)
    await store.sessions.create(new)
    await store.sessions.commit_turn(old, _interaction(old, "x"), "a", now=150.0)
    assert await store.sessions.purge_expired(before=1000.0) == 1
    assert await store.sessions.get(old.id) is None
    assert await store.sessions.history(old.id) == []
    assert await store.sessions.get(new.id) is not None


async def test_relationships_per_player_and_character(store: Store) -> None:
    assert await store.relationships.get("w", "u1", "tony") == {}
    await store.relationships.put("w", "u1", "tony", {"trust": 5}, now=1.0)
    await store.relationships.put("w", "u1", "tony", {"trust": 7}, now=2.0)
    assert await store.relationships.get("w", "u1", "tony") == {"trust": 7}
    assert await store.relationships.get("w", "u2", "tony") == {}
    assert await store.relationships.get("w", "u1", "anna") == {}
    assert await store.relationships.get("v", "u1", "tony") == {}
