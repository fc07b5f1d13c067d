"""Reliability figures: writes during a chaos run of dropped clients, and the next turn after
a kill -9 in the middle of a turn.

1. Chaos (SQLite, the scripted instant model, so that turns are mostly database round
   trips): ``CLIENTS`` WebSocket clients for ``CHAOS_SECONDS`` open sessions, send 1-15 texts
   and leave at a random moment of those turns in a random way (TCP abort, a frame over the
   1 MiB limit, a frame nested 100,000 deep, a close frame) while a REST write (openSession)
   runs every 50 ms; then 50 writes one after the other. Figures: drops per mode, writes
   checked, failed writes, the longest write during and after the chaos (the target: within
   a second), /readyz afterwards.
2. Kill -9 (SQLite, the real embedded model unless ``BENCH_RELIABILITY_LLM=scripted``): a
   normal REST turn on a fresh session (median of three), then a WebSocket turn killed with
   SIGKILL once its first text arrived, the server restarted on the same data, and the time of
   that session's next turn (before the fix it waited ~145 s for the dead process's lease);
   beside it, the first turn after a clean restart, which pays the same cold start.

Uses the test suite's live-server helpers (tests/api/live_server.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.api.live_server import Live, chaos, live_server

from anima.settings import Settings
from anima.store import Store
from anima.store.sessions import SessionRow

CHAOS_SECONDS = 30.0
CLIENTS = 8


async def _chaos(directory: Path) -> dict[str, Any]:
    settings = Settings(data_dir=directory / "chaos")
    with live_server(settings, "FastLLM") as server:
        live = await Live.prepare(server, settings)
        report = await chaos(live, seconds=CHAOS_SECONDS, clients=CLIENTS)
        locked = "database is locked" in server.log()
    figures = asdict(report)
    figures.update(
        seconds=CHAOS_SECONDS,
        clients=CLIENTS,
        drops_total=sum(report.drops.values()),
        writes_checked=report.writes + report.after_writes,
        longest_write_ms=round(report.longest_write_s * 1000, 1),
        after_longest_write_ms=round(report.after_longest_write_s * 1000, 1),
        writes_within_a_second=max(report.longest_write_s, report.after_longest_write_s) < 1.0,
        database_locked_in_log=locked,
    )
    del figures["longest_write_s"], figures["after_longest_write_s"]
    return figures


async def _timed_turn(live: Live, session_id: str, agent_id: str) -> float:
    async with live.http(limit=600) as http:
        started = time.perf_counter()
        status = await live.rest_turn(http, session_id, agent_id)
        elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"turn answered {status}")
    return elapsed


async def _kill_9(directory: Path, llm: str) -> dict[str, Any]:
    settings = Settings(data_dir=directory / f"kill-{llm}")
    extra = {"ANIMA_LLM_BACKEND": "embedded"} if llm == "embedded" else {}
    with live_server(settings, "SlowLLM", **extra) as server:
        live = await Live.prepare(server, settings)
        normal = []
        for _ in range(3):
            client = await live.client()
            normal.append(await _timed_turn(live, client.session_id, client.agent_id))
            await client.drop("close")
        victim = await live.client()
        await victim.first_text(
            await victim.say("tell me a long story about the lighthouse, the sea and the ships")
        )
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=60)
        await victim.drop("abort")
    held = await _lease_owner(settings, victim.session_id)
    with live_server(settings, "SlowLLM", **extra) as restarted:
        live.server = restarted
        after = await _timed_turn(live, victim.session_id, victim.agent_id)
    with live_server(settings, "SlowLLM", **extra) as clean:  # after a SIGTERM: no lease left
        live.server = clean
        fresh = await live.client()
        cold = await _timed_turn(live, fresh.session_id, fresh.agent_id)
        await fresh.drop("close")
    return {
        "llm": llm,
        "normal_turn_s": round(statistics.median(normal), 3),
        "next_turn_after_kill_9_s": round(after, 3),
        "first_turn_after_a_clean_restart_s": round(cold, 3),
        "killed_mid_turn": held is not None,  # the dead process's lease was still there
    }


async def _lease_owner(settings: Settings, session_id: str) -> str | None:
    store = await Store.open(settings)
    try:
        async with store.session() as s:
            row = await s.get(SessionRow, session_id)
            return None if row is None else row.lease_owner
    finally:
        await store.close()


async def main() -> dict[str, Any]:
    llm = os.environ.get("BENCH_RELIABILITY_LLM", "embedded")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        return {
            "chaos": await _chaos(directory),
            "kill_9": [await _kill_9(directory, "scripted"), await _kill_9(directory, llm)]
            if llm != "scripted"
            else [await _kill_9(directory, "scripted")],
        }


if __name__ == "__main__":
    print(asyncio.run(main()))
