"""WebSocket sessions at scale: up to 1,000 concurrent sessions on one ``anima serve`` process.

The server is a real ``anima serve`` subprocess (one worker, SQLite in a temp dir, the scripted
instant language model, the hashing embedder, no server PINGs); the clients are raw WebSocket
connections from this process speaking the web SDK's JSON packets. Server and clients share
the machine's cores, so the figures are for the pair.

1. ``N`` sessions open concurrently (handshake: SESSION_CONFIGURATION, loadScene,
   CONVERSATION_UPDATE) and stay idle; the server's resident memory before and after gives
   the memory per idle session (open socket plus its streaming session).
2. Saturated: every session sends ``TURNS`` texts, one after the other, all sessions at once:
   turns per second (the server's capacity), and the time from sending a text to its first
   text packet (p50/p90/p99), which is mostly queueing behind the other sessions' turns.
3. Paced: every session sends ``PACED_TURNS`` texts at an interval chosen so the offered load
   is ``PACED_LOAD`` of that capacity, with random offsets: the first-text latency a player
   sees on a busy but not overloaded server.

Runs with 1, 100 and 1,000 sessions show how the figures move with concurrency.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets

SESSIONS = (1, 100, 1000)
TURNS = 3
PACED_TURNS = 2
PACED_LOAD = 0.5  # of the measured saturation throughput
OPEN_CONCURRENCY = 100
WORKSPACE = "bench"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _percentiles(seconds: list[float]) -> dict[str, float]:
    return {f"p{q}": round(_pct(seconds, q / 100) * 1000, 1) for q in (50, 90, 99)}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _packet(payload: dict[str, Any], **ids: str) -> str:
    return json.dumps({"packetId": {"packetId": str(uuid.uuid4()), **ids}, **payload})


class Server:
    def __init__(self, directory: Path, command: list[str] | None = None, **env: str) -> None:
        """``anima serve`` (or ``command``, given the port) on a fresh data dir."""
        self.port = _free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ANIMA_")}
        self.env.update(
            ANIMA_DATA_DIR=str(directory),
            ANIMA_EMBED_BACKEND="hashing",
            ANIMA_STREAM_PING_SECONDS="0",
            ANIMA_LOG_LEVEL="warning",
            ANIMA_GRPC_PORT="0",
            ANIMA_LLM_BACKEND="scripted",
        )
        self.env.update(env)
        self.log = (directory / "server.log").open("wb")
        serve = [sys.executable, "-m", "anima.cli", "serve", "--log-format", "text", "--port"]
        self.process = subprocess.Popen(
            [*(command or serve), str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.key: dict[str, str] = {}  # the Authorization header, once _prepare made a key

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.flush()
                tail = Path(self.log.name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("anima serve did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _prepare(server: Server) -> tuple[str, str]:
    """A key, a deployed character; returns (character resource name, session token)."""
    done = subprocess.run(
        [sys.executable, "-m", "anima.cli", "keys", "create", "--workspace", WORKSPACE, "--json"],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(done.stdout)
    auth = {"Authorization": key["authorization"]}
    server.key = auth
    with httpx.Client(base_url=server.base, headers=auth, timeout=60) as c:
        created = c.post(
            f"/studio/v1/workspaces/{WORKSPACE}/characters",
            json={
                "defaultCharacterDescription": {"givenName": "Tony", "description": "A ferryman."}
            },
        ).json()
        op = c.post(f"/studio/v1/{created['name']}:deploy").json()
        while not c.get(f"/studio/v1/{op['name']}").json().get("done"):
            time.sleep(0.1)
        token = c.post(
            "/auth/v1/tokens/token:generate", json={"resources": [f"workspaces/{WORKSPACE}"]}
        ).json()
    # one token opens any session of its workspace: each client picks its own session id
    return str(created["name"]), str(token["token"])


class Client:
    def __init__(self, ws: websockets.ClientConnection, conversation: str) -> None:
        self.ws = ws
        self.conversation = conversation

    @classmethod
    async def open(cls, url: str, token: str, character: str) -> Client:
        ws = await websockets.connect(
            f"{url}?session_id={WORKSPACE}:{uuid.uuid4()}",
            subprotocols=[websockets.Subprotocol("Bearer"), websockets.Subprotocol(token)],
            max_size=None,
            ping_interval=None,
            open_timeout=120,
        )
        config = {
            "capabilitiesConfiguration": {"emotions": True},
            "userConfiguration": {"id": "bench-user", "name": "Bob"},
        }
        await ws.send(
            _packet(
                {"control": {"action": "SESSION_CONFIGURATION", "sessionConfiguration": config}}
            )
        )
        await ws.send(_packet({"mutation": {"loadScene": {"name": character}}}))
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
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("result", {}).get("control", {}).get("action") == "CONVERSATION_EVENT":
                return cls(ws, conversation)

    async def turn(self, text: str) -> float:
        """Seconds from sending ``text`` to its first text packet (waits for INTERACTION_END)."""
        interaction = str(uuid.uuid4())
        sent = time.perf_counter()
        await self.ws.send(
            _packet(
                {"text": {"text": text, "sourceType": "TYPED_IN", "final": True}},
                interactionId=interaction,
                conversationId=self.conversation,
            )
        )
        first: float | None = None
        while True:
            frame = json.loads(await self.ws.recv())
            result = frame.get("result", {})
            if result.get("packetId", {}).get("interactionId") != interaction:
                continue
            if first is None and "text" in result:
                first = time.perf_counter() - sent
            if result.get("control", {}).get("action") == "INTERACTION_END":
                if first is None:
                    raise RuntimeError("an interaction ended without text")
                return first


async def _run(server: Server, character: str, token: str, sessions: int) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{server.port}/v1/session/open"
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_one() -> Client:
        async with gate:
            return await Client.open(url, token, character)

    await asyncio.sleep(1.0)
    rss_before = _rss_kib(server.process.pid)
    started = time.perf_counter()
    clients = await asyncio.gather(*(open_one() for _ in range(sessions)))
    opened_in = time.perf_counter() - started
    await asyncio.sleep(2.0)
    rss_idle = _rss_kib(server.process.pid)

    async def talk(client: Client) -> list[float]:
        return [await client.turn(f"Hello number {i}, how are you?") for i in range(TURNS)]

    started = time.perf_counter()
    latencies = [x for per in await asyncio.gather(*(talk(c) for c in clients)) for x in per]
    elapsed = time.perf_counter() - started
    throughput = len(latencies) / elapsed

    # Paced: every session talks now and then, the offered load below what the server can do.
    interval = sessions / (PACED_LOAD * throughput)
    rng = random.Random(7)

    async def paced(client: Client) -> list[float]:
        await asyncio.sleep(rng.uniform(0, interval))
        out = []
        for i in range(PACED_TURNS):
            begun = time.perf_counter()
            out.append(await client.turn(f"And again, number {i}?"))
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - begun)))
        return out

    calm = [x for per in await asyncio.gather(*(paced(c) for c in clients)) for x in per]
    rss_after = _rss_kib(server.process.pid)
    await asyncio.gather(*(c.ws.close() for c in clients))
    return {
        "sessions": sessions,
        "open_seconds": round(opened_in, 2),
        "saturated": {
            "turns": len(latencies),
            "turns_per_second": round(throughput, 1),
            "first_text_ms": _percentiles(latencies),
        },
        "paced": {
            "offered_turns_per_second": round(sessions / interval, 1),
            "turns": len(calm),
            "first_text_ms": _percentiles(calm),
        },
        "server_rss_mib": {
            "before": round(rss_before / 1024, 1),
            "idle_sessions_open": round(rss_idle / 1024, 1),
            "after_turns": round(rss_after / 1024, 1),
        },
        "rss_per_idle_session_kib": round((rss_idle - rss_before) / sessions, 1),
    }


async def main() -> dict[str, Any]:
    results: dict[str, Any] = {
        "setup": "one anima serve process (SQLite, scripted LLM, hashing embedder), clients in "
        f"the bench process; {TURNS} sequential turns per session, all sessions at once",
        "runs": [],
    }
    for sessions in SESSIONS:
        with tempfile.TemporaryDirectory() as tmp:
            server = Server(Path(tmp))
            try:
                server.wait_ready()
                character, token = _prepare(server)
                run = await _run(server, character, token, sessions)
            finally:
                server.stop()
        print(json.dumps(run), flush=True)
        results["runs"].append(run)
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), indent=2))
