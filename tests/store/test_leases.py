"""Turn leases that know their holder: a dead holder's lease is taken over at once, a live
(or unknowable) holder's lease only after it lapses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from anima.settings import Settings
from anima.store import Store
from anima.store.leases import holder_gone, owner_id
from tests.api.engine_helpers import open_game
from tests.store.test_sessions import _session

HANG = 10.0  # a turn that waited for the lease would wait minutes


def dead_owner() -> str:
    """The owner id of a process of this host that has ended."""
    child = subprocess.run(
        [sys.executable, "-c", "from anima.store.leases import owner_id; print(owner_id())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return child.stdout.strip()


def test_owner_ids_tell_a_dead_process_from_a_live_one() -> None:
    mine = owner_id()
    assert len(mine) <= 64
    assert not holder_gone(mine)
    assert not holder_gone(owner_id()), "another engine of this process"
    assert holder_gone(dead_owner())
    host, pid, start, nonce = mine.split(":")
    assert holder_gone(f"{host}:{pid}:{int(start or 0) + 1}:{nonce}"), "pid reused later"
    assert not holder_gone(f"otherhost:{pid}:{start}:{nonce}"), "another host: unknowable"
    assert not holder_gone("0123456789abcdef0123456789abcdef"), "an old-style owner id"
    assert str(os.getpid()) == pid


async def test_a_dead_holders_lease_is_taken_over_at_once(store: Store) -> None:
    s = _session()
    await store.sessions.create(s)
    now = time.time()
    assert await store.leases.acquire(s.id, dead_owner(), now=now, until=now + 3600)
    taken = await store.leases.acquire(s.id, owner_id(), now=now, until=now + 30)
    assert taken is not None
    assert taken.id == s.id


async def test_a_live_or_unknown_holders_lease_waits_until_it_lapses(store: Store) -> None:
    s = _session()
    await store.sessions.create(s)
    me, other, far = owner_id(), owner_id(), "elsewhere:1:1:1"
    assert await store.leases.acquire(s.id, other, now=10, until=40)
    assert await store.leases.acquire(s.id, me, now=11, until=41) is None
    assert await store.leases.acquire(s.id, me, now=41, until=71), "lapsed"
    assert await store.leases.renew(s.id, me, until=100)
    assert not await store.leases.renew(s.id, other, until=100)
    assert await store.leases.acquire(s.id, far, now=99, until=129) is None, "renewed"
    await store.leases.release(s.id, me)
    assert await store.leases.acquire(s.id, far, now=99, until=129)
    assert await store.leases.acquire(s.id, me, now=100, until=130) is None, "unknowable: wait"


async def test_the_turn_after_a_crash_does_not_wait_for_the_dead_lease(
    db_settings: Settings,
) -> None:
    async with open_game(db_settings) as game:
        tony = await game.character("Tony")
        session = await game.open(tony)
        sid, agent = session["name"], session["sessionCharacters"][0]["character"]
        now = time.time()
        assert await game.store.sessions.acquire(sid, dead_owner(), now=now, until=now + 3600)
        async with asyncio.timeout(HANG):
            r = await game.send_text(sid, agent, "are you still there?")
        assert r.status_code == 200, r.text


async def test_the_lease_is_renewed_while_a_turn_runs(db_settings: Settings) -> None:
    from anima.backends.scripted import ScriptedLLM

    async with open_game(db_settings) as game:
        game.engine.lease_seconds = 0.6
        game.use_llm(ScriptedLLM(["One two three four five six."], chunk_delay_s=0.3))
        tony = await game.character("Tony")
        session = await game.open(tony)
        sid, agent = session["name"], session["sessionCharacters"][0]["character"]
        turn = asyncio.create_task(game.send_text(sid, agent, "count slowly"))
        await asyncio.sleep(1.2)  # two lease lengths into a turn of 1.5 s
        rival = owner_id()
        assert (
            await game.store.leases.acquire(sid, rival, now=time.time(), until=time.time() + 1)
            is None
        )
        assert (await turn).status_code == 200
        assert await game.store.leases.acquire(sid, rival, now=time.time(), until=time.time() + 1)
