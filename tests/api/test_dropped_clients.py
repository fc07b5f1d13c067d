"""Clients that go away mid-turn, and a server killed mid-turn, over real sockets.

A real ``anima serve`` (tests/api/live_server.py) on SQLite and on PostgreSQL. Before the
fixes, a client dropped while its turn ran left SQLite write-locked (every write then waited
30-60 s and failed until a restart), and after a kill -9 the session's next turn waited
about 145 s for the dead process's lease. ``HANG`` only tells a hang from a healthy answer;
the speed figures are measured by bench/bench_reliability.py, not asserted here.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import pytest

from anima.settings import Settings
from tests.api.live_server import DROPS, Live, chaos, live_server
from tests.server import run_server

pytestmark = pytest.mark.slow

HANG = 10.0
DELAYS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12)  # into 15 turns of ~10 ms each


async def test_clients_dropped_at_any_point_of_a_turn_never_block_the_store(
    db_settings: Settings,
) -> None:
    with live_server(db_settings, "FastLLM") as server:
        live = await Live.prepare(server, db_settings)
        async with live.http(limit=HANG) as http:
            for mode in DROPS:
                for delay in DELAYS:
                    client = await live.client()
                    for n in range(15):
                        await client.say(f"text {n}")
                    await asyncio.sleep(delay)
                    await client.drop(mode)
                    assert await live.write(http) == 200, (mode, delay)
                    assert await live.rest_turn(http, client.session_id, client.agent_id) == 200
            assert (await http.get("/readyz")).status_code == 200
        assert "database is locked" not in server.log()


async def test_chaos_drops_during_load_leave_writes_fast(db_settings: Settings) -> None:
    with live_server(db_settings, "FastLLM") as server:
        live = await Live.prepare(server, db_settings)
        report = await chaos(live, seconds=8, clients=6)
    assert sum(report.drops.values()) >= 12, report
    assert report.failed_writes == 0, report
    assert report.after_failed == 0, report
    assert report.longest_write_s < HANG, report
    assert report.after_longest_write_s < HANG, report
    assert report.ready_after, report
    assert "database is locked" not in server.log()


async def test_after_kill_9_mid_turn_the_next_turn_does_not_wait_for_the_lease(
    sqlite_settings: Settings,
) -> None:
    settings = sqlite_settings
    with live_server(settings) as server:
        live = await Live.prepare(server, settings)
        client = await live.client()
        await client.first_text(await client.say("tell me a long story"))
        server.process.send_signal(signal.SIGKILL)  # mid-turn: the lease stays behind
        server.process.wait(timeout=30)
    with live_server(settings) as restarted:
        live.server = restarted
        async with live.http(limit=HANG) as http:
            started = time.perf_counter()
            status = await live.rest_turn(http, client.session_id, client.agent_id)
            seconds = time.perf_counter() - started
        await client.drop("abort")
    assert status == 200
    print(f"next turn after kill -9: {seconds:.2f} s")


async def test_sigterm_ends_the_server_while_turns_run(sqlite_settings: Settings) -> None:
    settings = sqlite_settings
    with live_server(settings) as server:
        live = await Live.prepare(server, settings)
        clients = [await live.client() for _ in range(8)]
        for client in clients:
            for n in range(5):
                await client.say(f"text {n}")
        await clients[0].first_text(await clients[0].say("and one more"))
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"anima serve ignored SIGTERM with turns running:\n{server.log()[-3000:]}")
        finally:
            for client in clients:
                await client.drop("abort")
        assert "Application shutdown complete" in server.log()
    with run_server(settings.data_dir, extra_env={"ANIMA_LLM_BACKEND": "scripted"}) as again:
        assert again.process.poll() is None, "the store opens again after the shutdown"
