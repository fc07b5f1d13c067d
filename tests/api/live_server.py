"""A real ``anima serve`` subprocess and raw WebSocket clients that go away mid-turn.

``live_server(settings)`` starts the server (tests/server.py) on the database of
``settings`` (SQLite in its data directory, or the PostgreSQL schema of the ``pg_settings``
fixture) with ``SlowLLM``, a scripted model whose replies take about 0.4 s, so that a client
can leave in the middle of a reply, or ``FastLLM``, whose turns are mostly database round
trips, so that a client leaving at a random moment often does so inside one. ``Live`` creates the workspace key and a
deployed character through the store and the Studio API, opens streaming sessions
(``Live.client``) and does REST writes and turns (``Live.write``, ``Live.rest_turn``).

``Client.drop(mode)`` leaves the way a tester or a broken network does: ``abort`` (the TCP
connection just goes), ``oversize`` (a frame over the 1 MiB limit: the server closes 1009),
``deep`` (a frame nested 100,000 levels deep, then abort) or ``close`` (a close frame).
``chaos`` runs many such clients at random against a server while timing REST writes; the
chaos test and ``bench/bench_reliability.py`` share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

from anima.backends.scripted import ScriptedLLM
from anima.domain.credentials import Scope, new_key_pair
from anima.settings import Settings
from anima.store import Store
from tests.server import Server, run_server

WS = "live"
REPO = Path(__file__).resolve().parents[2]
DROPS = ("abort", "oversize", "deep", "close")
REPLY = (
    "Well met, traveller. The river is high today and the ferry runs late, so sit with me "
    "a while and tell me where you are going before the light goes."
)


class SlowLLM(ScriptedLLM):
    """Scripted replies at about 60 words a second: a turn lasts about 0.4 s."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SlowLLM:
        return cls(
            [REPLY],
            first_chunk_delay_s=0.02,
            chunk_delay_s=0.015,
            timeout_s=settings.llm_timeout_seconds,
        )


class FastLLM(ScriptedLLM):
    """Scripted replies at once: a turn is mostly its database round trips."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FastLLM:
        return cls(["Well met. The river is high today."], timeout_s=settings.llm_timeout_seconds)


def server_env(settings: Settings, llm: str = "SlowLLM", **extra: str) -> dict[str, str]:
    env = {
        "ANIMA_LLM_BACKEND": f"tests.api.live_server:{llm}",
        "ANIMA_EMBED_BACKEND": "hashing",
        "ANIMA_STREAM_PING_SECONDS": "0",
        "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(REPO)) if p),
    }
    if not settings.is_sqlite:
        env["ANIMA_DATABASE_URL"] = settings.db_url
        if settings.database_schema:
            env["ANIMA_DATABASE_SCHEMA"] = settings.database_schema
    return {**env, **extra}


@contextmanager
def live_server(settings: Settings, llm: str = "SlowLLM", **extra: str) -> Iterator[Server]:
    """``anima serve`` on ``settings``' database with ``SlowLLM`` or ``FastLLM``."""
    with run_server(settings.data_dir, extra_env=server_env(settings, llm, **extra)) as server:
        yield server


def _packet(payload: dict[str, Any], **ids: str) -> str:
    return json.dumps({"packetId": {"packetId": str(uuid.uuid4()), **ids}, **payload})


@dataclass
class Client:
    ws: websockets.ClientConnection
    session_id: str
    agent_id: str
    conversation: str

    async def say(self, text: str) -> str:
        interaction = str(uuid.uuid4())
        payload = {"text": {"sourceType": "TYPED_IN", "text": text, "final": True}}
        await self.ws.send(
            _packet(payload, interactionId=interaction, conversationId=self.conversation)
        )
        return interaction

    async def first_text(self, interaction: str) -> None:
        """Wait for the first text packet of ``interaction``: its turn is running."""
        while True:
            frame = json.loads(await self.ws.recv())
            result = frame.get("result", {})
            if "text" in result and result["packetId"].get("interactionId") == interaction:
                return

    async def reply(self, interaction: str) -> None:
        """Wait for the end of ``interaction``."""
        while True:
            frame = json.loads(await self.ws.recv())
            result = frame.get("result", {})
            if (
                result.get("control", {}).get("action") == "INTERACTION_END"
                and result["packetId"].get("interactionId") == interaction
            ):
                return

    async def drop(self, mode: str) -> None:
        with contextlib.suppress(websockets.ConnectionClosed, OSError):
            if mode == "oversize":
                await self.ws.send("x" * ((1 << 20) + 1))
                await asyncio.wait_for(self.ws.wait_closed(), 5)
            elif mode == "deep":
                await self.ws.send("[" * 100_000 + "]" * 100_000)
            elif mode == "close":
                await self.ws.close()
        if self.ws.transport is not None:
            self.ws.transport.abort()


@dataclass
class Live:
    server: Server
    settings: Settings
    auth: dict[str, str] = field(default_factory=dict)
    token: str = ""
    character: str = ""

    @property
    def ws_url(self) -> str:
        return self.server.base_url.replace("http", "ws", 1) + "/v1/session/open"

    @classmethod
    async def prepare(cls, server: Server, settings: Settings) -> Live:
        """A key on workspace ``live`` (through the store) and a deployed character."""
        store = await Store.open(settings)
        try:
            await store.keys.ensure_workspace(WS)
            pair = new_key_pair()
            await store.keys.add(WS, Scope.ALL, pair)
        finally:
            await store.close()
        live = cls(server, settings, {"Authorization": f"Basic {pair.basic}"})
        async with live.http() as http:
            body = {"defaultCharacterDescription": {"givenName": "Mara"}}
            r = await http.post(f"/studio/v1/workspaces/{WS}/characters", json=body)
            r.raise_for_status()
            live.character = r.json()["name"]
            (await http.post(f"/studio/v1/{live.character}:deploy")).raise_for_status()
            for _ in range(600):
                if (await live.write(http)) == 200:
                    break
                await asyncio.sleep(0.05)
            r = await http.post(
                "/auth/v1/tokens/token:generate", json={"resources": [f"workspaces/{WS}"]}
            )
            r.raise_for_status()
            live.token = r.json()["token"]
        return live

    @asynccontextmanager
    async def http(self, limit: float = 60) -> AsyncIterator[httpx.AsyncClient]:
        """A REST client; a request that takes longer than ``limit`` seconds fails."""
        async with httpx.AsyncClient(
            base_url=self.server.base_url, headers=self.auth, timeout=limit
        ) as http:
            yield http

    async def write(self, http: httpx.AsyncClient) -> int:
        """One REST write (openSession stores a new session); its status."""
        short = self.character.rsplit("/", 1)[-1]
        r = await http.post(f"/v1/workspaces/{WS}/characters/{short}:openSession", json={})
        return r.status_code

    async def rest_turn(self, http: httpx.AsyncClient, session_id: str, agent_id: str) -> int:
        r = await http.post(
            f"/v1/workspaces/{WS}/sessions/{session_id}/sessionCharacters/{agent_id}:sendText",
            json={"text": "are you still there?"},
            headers={"Grpc-Metadata-session-id": session_id},
        )
        return r.status_code

    async def client(self, session_id: str | None = None) -> Client:
        session_id = session_id or f"{WS}:{uuid.uuid4()}"
        ws = await websockets.connect(
            f"{self.ws_url}?session_id={session_id}",
            subprotocols=[websockets.Subprotocol("Bearer"), websockets.Subprotocol(self.token)],
            max_size=None,
            ping_interval=None,
            open_timeout=60,
        )
        config = {"capabilitiesConfiguration": {"emotions": True}}
        await ws.send(
            _packet(
                {"control": {"action": "SESSION_CONFIGURATION", "sessionConfiguration": config}}
            )
        )
        await ws.send(_packet({"mutation": {"loadScene": {"name": self.character}}}))
        agent = ""
        while not agent:
            frame = json.loads(await ws.recv())
            status = frame.get("result", {}).get("control", {}).get("currentSceneStatus")
            if status:
                agent = status["agents"][0]["agentId"]
        conversation = str(uuid.uuid4())
        participants = [{"name": agent, "type": "AGENT"}, {"type": "PLAYER"}]
        update = {
            "action": "CONVERSATION_UPDATE",
            "conversationUpdate": {"participants": participants},
        }
        await ws.send(_packet({"control": update}, conversationId=conversation))
        return Client(ws, session_id, agent, conversation)


@dataclass
class ChaosReport:
    drops: dict[str, int] = field(default_factory=dict)
    turns_started: int = 0
    writes: int = 0
    failed_writes: int = 0
    longest_write_s: float = 0.0
    after_writes: int = 0
    after_longest_write_s: float = 0.0
    after_failed: int = 0
    ready_after: bool = False


async def chaos(
    live: Live, *, seconds: float, clients: int, seed: int = 13, write_every: float = 0.05
) -> ChaosReport:
    """``clients`` loops that open a session, send 1-15 texts and drop at a random moment of
    the turns (random mode), for ``seconds``; meanwhile a REST write every ``write_every``
    seconds, timed. Then 50 writes one after the other, timed, and /readyz."""
    report = ChaosReport(drops={mode: 0 for mode in DROPS})
    rng = random.Random(seed)
    stop = time.monotonic() + seconds

    async def player() -> None:
        while time.monotonic() < stop:
            client = await live.client()
            for _ in range(rng.randint(1, 15)):
                await client.say("tell me about the river")
                report.turns_started += 1
            await asyncio.sleep(rng.uniform(0, 0.2))
            mode = rng.choice(DROPS)
            await client.drop(mode)
            report.drops[mode] += 1

    async def writer(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            status = await live.write(http)
            report.longest_write_s = max(report.longest_write_s, time.perf_counter() - started)
            report.writes += 1
            report.failed_writes += status != 200
            await asyncio.sleep(write_every)

    async with live.http() as http:
        await asyncio.gather(writer(http), *(player() for _ in range(clients)))
        for _ in range(50):
            started = time.perf_counter()
            status = await live.write(http)
            elapsed = time.perf_counter() - started
            report.after_longest_write_s = max(report.after_longest_write_s, elapsed)
            report.after_writes += 1
            report.after_failed += status != 200
        report.ready_after = (await http.get("/readyz")).status_code == 200
    return report
