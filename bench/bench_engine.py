"""Engine REST throughput: sendText with 1, 10 and 100 concurrent sessions.

The language model is the scripted backend with no delay (distinct replies in turn), so what is measured is the engine's
own cost per turn: HTTP routing and auth, the session lease, history, the brain's stages
(appraisal with the embedder, emotions, goals), and storing the interaction. Requests go
through the ASGI app in process (no sockets), on SQLite and, when reachable, PostgreSQL.

Figures: turns per second, and latency percentiles (p50/p90/p99) of one sendText request.
Each configuration runs for a fixed number of turns per session after a warm-up.

``served``: the same turns over real sockets against a served app (uvicorn in a subprocess,
SQLite, MiniLM, the scripted model), 100 sessions, for each event loop and HTTP parser that
installs here (asyncio or uvloop, h11 or httptools) and with ``--workers 2``. The clients run
in this process on the same two cores, so these figures are for server and clients together.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from anima.app import create_app
from anima.backends.scripted import ScriptedLLM
from anima.domain.credentials import Scope, new_key_pair
from anima.settings import Settings

PG_URL = os.environ.get(
    "ANIMA_TEST_DATABASE_URL", "postgresql+asyncpg://anima:anima@127.0.0.1:5432/anima_test"
)
# Distinct replies in turn: one reply said every turn would be refused as a repetition from
# the second turn on, and every turn would measure the repair and the deflection instead.
REPLIES = (
    "Hello there, friend. The ferry leaves at noon.",
    "The river runs high this spring; mind the eddies by the mill.",
    "I keep two boats, a red one and a grey one with a patched sail.",
    "Fish stew tonight, if the nets come back full.",
    "Travellers pay a copper each, children ride free.",
    "Last winter the ice held until the feast of lanterns.",
    "My father built the landing stage with his own hands.",
    "Watch the sky to the west; storms come over the hills fast.",
)
CONCURRENCY = (1, 10, 100)
TURNS = {1: 200, 10: 40, 100: 6}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _talk(
    c: httpx.AsyncClient,
    workspace: str,
    cid: str,
    n: int,
    turns: int,
    headers: dict[str, str],
    warmup: int = 2,
) -> dict[str, Any]:
    """Open ``n`` sessions, warm each up, then time ``turns`` sendTexts per session, all
    sessions at once."""
    sessions = []
    for _ in range(n):
        s = (
            await c.post(
                f"/v1/workspaces/{workspace}/characters/{cid}:openSession",
                json={"user": {"endUserId": uuid.uuid4().hex}},
                headers=headers,
            )
        ).json()
        sessions.append((s["name"], s["sessionCharacters"][0]["character"]))
    latencies: list[float] = []

    async def player(sid: str, agent: str, turns: int, record: bool) -> None:
        h = {**headers, "Grpc-Metadata-session-id": sid}
        url = f"/v1/workspaces/{workspace}/sessions/{sid}/sessionCharacters/{agent}:sendText"
        for i in range(turns):
            t0 = time.perf_counter()
            r = await c.post(url, json={"text": f"Tell me about the river, {i}."}, headers=h)
            if r.status_code != 200:
                raise RuntimeError(r.text)
            if record:
                latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(player(sid, a, warmup, False) for sid, a in sessions))
    t0 = time.perf_counter()
    await asyncio.gather(*(player(sid, a, turns, True) for sid, a in sessions))
    elapsed = time.perf_counter() - t0
    return {
        "turns": len(latencies),
        "turns_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_pct(latencies, 0.50) * 1000, 2),
        "p90_ms": round(_pct(latencies, 0.90) * 1000, 2),
        "p99_ms": round(_pct(latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
    }


async def _run(settings: Settings, label: str) -> dict[str, Any]:
    app = create_app(settings)
    results: dict[str, Any] = {}
    async with LifespanManager(app, startup_timeout=600):
        state = app.state.anima
        state.engine.turns.llm = ScriptedLLM(REPLIES)
        pair = new_key_pair()
        await state.store.keys.ensure_workspace("bench")
        await state.store.keys.add("bench", Scope.ALL, pair)
        headers = {"Authorization": f"Basic {pair.basic}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=60) as c:
            created = (
                await c.post(
                    "/studio/v1/workspaces/bench/characters",
                    json={
                        "defaultCharacterDescription": {"givenName": "Tony"},
                        "emotionalFluidity": 0.5,
                    },
                    headers=headers,
                )
            ).json()
            await c.post(f"/studio/v1/{created['name']}:deploy", headers=headers)
            await state.extras["deployer"].wait()
            cid = created["name"].rsplit("/", 1)[-1]
            for n in CONCURRENCY:
                results[f"{n}_sessions"] = await _talk(c, "bench", cid, n, TURNS[n], headers)
                print(label, n, results[f"{n}_sessions"], flush=True)
    return results


async def _pg_reachable() -> bool:
    try:
        import asyncpg

        conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=3)
        await conn.close()
        return True
    except Exception:
        return False


async def _databases(embed: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=Path(tmp) / "sqlite", llm_backend="scripted", embed_backend=embed)
        out["sqlite"] = await _run(base, f"{embed}/sqlite")
        if await _pg_reachable():
            import asyncpg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                pg = base.model_copy(update={"database_url": PG_URL, "database_schema": schema})
                out["postgresql"] = await _run(pg, f"{embed}/postgresql")
            finally:
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                await conn.close()
        else:
            out["postgresql"] = "skipped: no PostgreSQL at ANIMA_TEST_DATABASE_URL"
    return out


SERVED = (  # (event loop, HTTP parser, workers)
    ("asyncio", "h11", 1),
    ("uvloop", "h11", 1),
    ("asyncio", "httptools", 1),
    ("uvloop", "httptools", 1),
    ("uvloop", "httptools", 2),
)
SERVED_SESSIONS = 100
SERVED_TURNS = 4


async def _served(loop: str, http: str, workers: int) -> dict[str, Any]:
    from bench.bench_websocket import WORKSPACE, Server, _prepare

    command = [
        *("-m", "uvicorn", "anima.app:create_app_from_env", "--factory"),
        *("--loop", loop, "--http", http, "--workers", str(workers)),
        # uvicorn closes a connection idle for 5 s by default; a client sending on it at
        # that moment gets a reset (the sessions that finish the warm-up first wait that long)
        *("--timeout-keep-alive", "75", "--port"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), [sys.executable, *command], ANIMA_EMBED_BACKEND="minilm")
        try:
            await asyncio.to_thread(server.wait_ready)
            character, _token = await asyncio.to_thread(_prepare, server)
            limits = httpx.Limits(max_connections=SERVED_SESSIONS)
            async with httpx.AsyncClient(base_url=server.base, timeout=120, limits=limits) as c:
                cid = character.rsplit("/", 1)[-1]
                out = await _talk(
                    c, WORKSPACE, cid, SERVED_SESSIONS, SERVED_TURNS, server.key, warmup=1
                )
        finally:
            server.stop()
    print("served", loop, http, workers, out, flush=True)
    return out


INTERACTION = {
    "name": "workspaces/bench/sessions/default:5f0c8e2a/interactions/9a1e44c0",
    "textList": ["Welcome, Tom!", "Mind the mud on your boots.", "The ferry leaves at noon."],
    "emotion": {"behavior": "JOY", "strength": "NORMAL"},
    "sessionId": "default:5f0c8e2a",
    "relationshipUpdate": {"trust": 1, "respect": 0, "familiar": 1, "flirtatious": 0},
    "activeTriggers": [],
}
PACKET = {
    "packetId": {"packetId": "5f0c8e2a-1", "utteranceId": "u1", "interactionId": "i1"},
    "routing": {"source": {"name": "tony", "type": "AGENT"}, "targets": [{"type": "PLAYER"}]},
    "timestamp": "2026-11-30T12:00:00.000Z",
    "text": {"text": "Welcome, Tom! Mind the mud on your boots.", "final": True},
}


def _encoders() -> dict[str, Any]:
    """Microseconds to encode an Interaction and a text packet: the standard library as
    Starlette's JSONResponse calls it, against orjson when it is installed."""
    import json
    import timeit

    def std(v: object) -> bytes:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode()

    out: dict[str, Any] = {}
    encoders: dict[str, Any] = {"json": std}
    try:
        import orjson

        encoders["orjson"] = orjson.dumps
    except ImportError:
        out["orjson"] = "skipped: not installed"
    for name, dumps in encoders.items():
        for what, value in (("interaction", INTERACTION), ("packet", PACKET)):
            n = 20000
            seconds = min(timeit.repeat(lambda d=dumps, v=value: d(v), number=n, repeat=3))
            out[f"{name}_{what}_us"] = round(seconds / n * 1e6, 2)
    return out


async def main() -> dict[str, Any]:
    """With the real MiniLM embedder (two embeddings a turn: the player's line and the reply),
    and with the hashing embedder, which leaves the engine's plumbing alone; then served over
    sockets with each event loop, HTTP parser and worker count."""
    parts = os.environ.get("BENCH_ENGINE_PARTS", "minilm,hashing,served").split(",")
    out: dict[str, Any] = {"llm": "scripted, instant"}
    if "minilm" in parts:
        out["minilm"] = await _databases("minilm")
    if "hashing" in parts:
        out["hashing"] = await _databases("hashing")
    out["encoders"] = _encoders()
    if "served" in parts:
        out["served"] = {}
        for loop, http, workers in SERVED:
            try:
                result: dict[str, Any] | str = await _served(loop, http, workers)
            except (httpx.HTTPError, RuntimeError, OSError) as exc:  # keep the others
                result = f"failed: {type(exc).__name__}: {exc}"
            out["served"][f"{loop}+{http}+workers{workers}"] = result
    return out
